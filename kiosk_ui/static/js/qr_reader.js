// Reading a QR code from a <video>, for the kiosk's camera and the door's: BarcodeDetector where
// the browser has it, else zxing-wasm's reader (vendored, loaded on first use only: most kiosks
// never open the camera).  `tryHarder` trades speed for badly lit or tilted codes: the kiosk
// has time, the door reads every frame of a queue.
const ZXING = "/kiosk/static/vendor/zxing-wasm/reader/";

async function zxingReader(tryHarder) {
  const zxing = await import(`${ZXING}index.js`);
  await zxing.prepareZXingModule({
    overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? `${ZXING}${path}` : prefix + path) },
    fireImmediately: true,
  });
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return async (video) => {
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    const found = await zxing.readBarcodes(image, { formats: ["QRCode"], tryHarder, maxNumberOfSymbols: 1 });
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

// A function from a playing <video> to the text of the QR code in its current frame ("" if none).
export async function qrReader({ tryHarder = true } = {}) {
  return (await nativeReader()) || (await zxingReader(tryHarder));
}
