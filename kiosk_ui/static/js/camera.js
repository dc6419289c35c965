// The kiosk's camera, opened only when the attendee taps "Use the camera".  BarcodeDetector
// where the browser has it; else zxing-wasm's reader, vendored, loaded on first use only.
import { submitScan } from "./wedge.js";

let stream = null;
let timer = null;
let detector = null;

async function zxingReader() {
  const zxing = await import("/kiosk/static/vendor/zxing-wasm/reader/index.js");
  await zxing.prepareZXingModule({
    overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? `/kiosk/static/vendor/zxing-wasm/reader/${path}` : prefix + path) },
    fireImmediately: true,
  });
  return async (video, canvas) => {
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    const context = canvas.getContext("2d", { willReadFrequently: true });
    context.drawImage(video, 0, 0);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    const found = await zxing.readBarcodes(image, { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1 });
    return found.find((result) => result.isValid)?.text || "";
  };
}

async function nativeReader() {
  if (!("BarcodeDetector" in window)) return null;
  const formats = await window.BarcodeDetector.getSupportedFormats();
  if (!formats.includes("qr_code")) return null;
  const native = new window.BarcodeDetector({ formats: ["qr_code"] });
  return async (video) => (await native.detect(video))[0]?.rawValue || "";
}

export async function startCamera(form) {
  const view = form?.querySelector("[data-camera-view]");
  if (!view) return;
  const status = view.querySelector("[data-camera-status]");
  const video = view.querySelector("video");
  view.hidden = false;
  form.querySelector("[data-camera-start]").hidden = true;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch {
    status.textContent = status.dataset.noCamera;
    return;
  }
  video.srcObject = stream;
  await video.play().catch(() => {});
  status.textContent = status.dataset.looking;
  detector = detector || (await nativeReader()) || (await zxingReader());
  const canvas = document.createElement("canvas");
  const look = async () => {
    if (!stream) return;
    let text = "";
    try {
      if (video.readyState >= 2) text = await detector(video, canvas);
    } catch {
      text = "";
    }
    if (text) {
      stopCamera();
      submitScan(form, text);
    } else if (stream) {
      timer = setTimeout(look, 150);
    }
  };
  look();
}

export function stopCamera() {
  clearTimeout(timer);
  timer = null;
  if (stream) {
    for (const track of stream.getTracks()) track.stop();
    stream = null;
  }
  const view = document.querySelector("[data-camera-view]:not([hidden])");
  if (view) {
    view.hidden = true;
    view.querySelector("video").srcObject = null;
    const start = view.closest("form")?.querySelector("[data-camera-start]");
    if (start) start.hidden = false;
  }
}
