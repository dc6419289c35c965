// An attendee who walks away must not leave their name on the screen for the next one.  After
// idle_timeout_s without input on any screen but Welcome, ask "Need more time?" with a countdown
// of extend_s (at least 20 s, WCAG 2.2.1); no answer: start over on a fresh page with nothing of
// theirs left in the page or the browser's storage.  Only setTimeout and Date: a test's clock
// (Playwright's page.clock) controls both.
const RESTING = new Set(["welcome", "pair", "offline"]);
const SHELL_CACHE = /^kiosk-shell-/;

let idleTimer = null;
let tickTimer = null;
let deadline = 0;

function settings() {
  const data = document.body.dataset;
  return {
    idleMs: Math.max(5, Number(data.idle) || 30) * 1000,
    extendMs: Math.max(20, Number(data.extend) || 30) * 1000,
  };
}

function currentScreen() {
  return document.querySelector("#screen [data-screen]")?.dataset.screen || "welcome";
}

export async function resetKiosk() {
  clearTimeout(idleTimer);
  clearTimeout(tickTimer);
  for (const form of document.querySelectorAll("form")) form.reset();
  try {
    sessionStorage.clear();
    localStorage.clear(); // the kiosk keeps nothing there; whatever is there is not ours to keep
  } catch {
    // storage disabled: nothing to clear
  }
  try {
    if ("caches" in window) {
      for (const name of await caches.keys()) {
        if (!SHELL_CACHE.test(name)) await caches.delete(name);
      }
    }
  } catch {
    // no Cache Storage in this context
  }
  const screen = document.getElementById("screen");
  if (screen) screen.replaceChildren();
  location.replace("/kiosk");
}

function dialog() {
  return document.getElementById("idle");
}

function tick() {
  const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
  const count = document.getElementById("idle-count");
  if (count) count.textContent = count.dataset.template.replace("{s}", String(left));
  if (left <= 0) {
    resetKiosk();
    return;
  }
  tickTimer = setTimeout(tick, 1000);
}

function ask() {
  const modal = dialog();
  if (!modal) {
    resetKiosk();
    return;
  }
  deadline = Date.now() + settings().extendMs;
  if (!modal.open) modal.showModal();
  document.getElementById("idle-yes")?.focus();
  tick();
}

function arm() {
  clearTimeout(idleTimer);
  if (dialog()?.open) return; // only "Yes" answers the question
  if (RESTING.has(currentScreen())) return;
  idleTimer = setTimeout(ask, settings().idleMs);
}

function extend() {
  clearTimeout(tickTimer);
  dialog()?.close();
  arm();
}

export function startIdle() {
  for (const type of ["pointerdown", "keydown", "input", "touchstart", "wheel"]) {
    document.addEventListener(type, arm, { capture: true, passive: true });
  }
  document.getElementById("idle-yes")?.addEventListener("click", extend);
  // Escape would close the dialog without saying yes: treat it as a yes, never as a silent close.
  dialog()?.addEventListener("cancel", (event) => {
    event.preventDefault();
    extend();
  });
  document.addEventListener("htmx:afterSwap", arm);
  arm();
}
