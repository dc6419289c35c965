// The camera at the door: it keeps looking, so a volunteer scans a queue without touching the
// screen.  BarcodeDetector where the browser has it, else the kiosk's vendored zxing-wasm
// reader (loaded from the kiosk's URL on first use).  A code is handed on once; the same code
// is ignored while it stays in view and for DEBOUNCE_MS after it was last seen, so a badge
// held up for three seconds is one scan, and the next badge is read at once.
import { qrReader } from "/kiosk/static/js/qr_reader.js";

const DEBOUNCE_MS = 2000;
let reader = null;

export class Camera {
  constructor(video, onCode) {
    this.video = video;
    this.onCode = onCode;
    this.stream = null;
    this.last = "";
    this.lastSeen = 0;
    this.generation = 0;
  }

  get running() {
    return this.stream !== null;
  }

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    this.video.srcObject = this.stream;
    await this.video.play().catch(() => {});
    reader = reader || (await qrReader({ tryHarder: false })); // every frame of a queue: speed first
    this.look();
  }

  async look() {
    const generation = ++this.generation; // a restarted camera's loop replaces the old one
    while (this.stream && generation === this.generation) {
      let text = "";
      try {
        if (this.video.readyState >= 2) text = await reader(this.video);
      } catch {
        text = "";
      }
      const now = performance.now();
      if (text) {
        const repeat = text === this.last && now - this.lastSeen < DEBOUNCE_MS;
        this.last = text;
        this.lastSeen = now;
        if (!repeat) this.onCode(text);
      }
      // Wait for the next frame rather than a fixed delay: a new badge is read in the frame it appears.
      await new Promise((resolve) =>
        this.video.requestVideoFrameCallback ? this.video.requestVideoFrameCallback(() => resolve()) : setTimeout(resolve, 50),
      );
    }
  }

  stop() {
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.video.srcObject = null;
  }
}
