// Reading the login page's animated QR code with the camera: BarcodeDetector where the browser
// has one for QR codes, the vendored jsQR decoder (vendor/jsqr, loaded by index.html) otherwise.
// Each decoded text is passed on; the caller decides what to do with it.

const FRAME_MS = 120;

async function nativeDetector() {
  if (!("BarcodeDetector" in window)) return null;
  try {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    return formats.includes("qr_code") ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
  } catch {
    return null;
  }
}

export class QrScanner {
  constructor(video, onText) {
    this.video = video;
    this.onText = onText;
    this.stream = null;
    this.timer = null;
    this.canvas = document.createElement("canvas");
    this.context = this.canvas.getContext("2d", { willReadFrequently: true });
  }

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "environment" },
      audio: false,
    });
    if (this.stopped) {
      this.stop();
      return;
    }
    this.video.srcObject = this.stream;
    await this.video.play();
    this.detector = await nativeDetector();
    this.decoder = this.detector ? "BarcodeDetector" : "jsQR";
    this.video.dataset.decoder = this.decoder;
    this.tick();
  }

  async decodeFrame() {
    const { videoWidth: w, videoHeight: h } = this.video;
    if (!w || !h) return null;
    if (this.detector) {
      const found = await this.detector.detect(this.video);
      return found.length ? found[0].rawValue : null;
    }
    this.canvas.width = w;
    this.canvas.height = h;
    this.context.drawImage(this.video, 0, 0, w, h);
    const image = this.context.getImageData(0, 0, w, h);
    const found = window.jsQR(image.data, w, h, { inversionAttempts: "dontInvert" });
    return found ? found.data : null;
  }

  tick() {
    this.timer = setTimeout(async () => {
      if (this.stopped) return;
      try {
        const text = await this.decodeFrame();
        if (text && !this.stopped) this.onText(text);
      } catch {
        // A frame that cannot be read is skipped; the next one may be sharp.
      }
      if (!this.stopped) this.tick();
    }, FRAME_MS);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    if (this.video) this.video.srcObject = null;
  }
}
