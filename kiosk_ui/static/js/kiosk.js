// The kiosk page's one entry module (the page's CSP allows no inline script): it starts the
// scanner input, the camera button, the idle reset and the print progress, and registers the
// service worker.  Each screen is swapped into <main id="screen"> by htmx; everything that
// belongs to a screen is set up again after each swap and torn down with it.
import { startWedge } from "./wedge.js";
import { startCamera, stopCamera } from "./camera.js";
import { startIdle } from "./idle.js";
import { followJob, stopFollowing } from "./printing.js";

const screenHost = () => document.getElementById("screen");

function setUpScreen() {
  const host = screenHost();
  if (!host) return;
  for (const button of host.querySelectorAll("[data-camera-start]")) {
    button.addEventListener("click", () => startCamera(button.closest("form")));
  }
  for (const button of host.querySelectorAll("[data-camera-stop]")) {
    button.addEventListener("click", () => stopCamera());
  }
  const printing = host.querySelector("[data-job]");
  if (printing) followJob(printing);
}

function focusTitle() {
  // A new screen: a screen reader starts reading at its title, a sighted user sees no ring.
  const title = screenHost()?.querySelector("h1:not([hidden] h1)");
  if (title) title.focus({ preventScroll: false, focusVisible: false });
}

document.addEventListener("htmx:beforeSwap", (event) => {
  if (event.detail.target === screenHost()) {
    stopCamera();
    stopFollowing();
  }
});
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target === screenHost()) {
    setUpScreen();
    focusTitle();
  }
});

// The appliance is restarting (or gone): say so in the attendee's language and start over once
// it answers again, rather than leaving a half-done screen.
let waiting = null;
function waitForAppliance() {
  if (waiting) return;
  document.getElementById("restarting")?.removeAttribute("hidden");
  waiting = setInterval(async () => {
    try {
      const answer = await fetch("/healthz", { cache: "no-store" });
      if (answer.ok) {
        clearInterval(waiting);
        location.replace(`/kiosk?lang=${document.body.dataset.lang || "en"}`);
      }
    } catch {
      // still restarting
    }
  }, 2000);
}
document.addEventListener("htmx:sendError", waitForAppliance);

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/kiosk/sw.js", { scope: "/kiosk", type: "classic" }).catch(() => {
    // a kiosk without the worker still works; only the "one moment" page on a reload is lost
  });
}

setUpScreen();
startWedge(screenHost);
startIdle();
