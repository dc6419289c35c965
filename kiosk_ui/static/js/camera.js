// The kiosk's camera, opened only when the attendee taps "Use the camera" (the reading itself is
// qr_reader.js, shared with the door).
import { qrReader } from "./qr_reader.js";
import { submitScan } from "./wedge.js";

let stream = null;
let timer = null;
let detector = null;

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
  detector = detector || (await qrReader());
  const look = async () => {
    if (!stream) return;
    let text = "";
    try {
      if (video.readyState >= 2) text = await detector(video);
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
