// A keyboard-wedge scanner types the QR's text as fast keystrokes ending with Enter.  Collected
// anywhere on a screen that takes a scan (data-wedge), never while a text field has focus (the
// attendee is typing there), and sent through the screen's scan form like the camera's result.
const FAST_MS = 60; // a person types slower than this between keys; a scanner much faster
const MIN_LENGTH = 4;

function typing(element) {
  if (!element) return false;
  if (element.isContentEditable) return true;
  if (element.tagName === "TEXTAREA" || element.tagName === "SELECT") return true;
  if (element.tagName !== "INPUT") return false;
  return !["button", "submit", "reset", "checkbox", "radio", "hidden"].includes(element.type);
}

export function submitScan(form, text) {
  if (!form || !text) return;
  form.querySelector('input[name="code"]').value = text;
  form.requestSubmit();
}

export function startWedge(screenHost) {
  let buffer = "";
  let last = 0;
  document.addEventListener(
    "keydown",
    (event) => {
      const screen = screenHost()?.querySelector("[data-wedge]");
      if (!screen || typing(document.activeElement) || event.ctrlKey || event.altKey || event.metaKey) {
        buffer = "";
        return;
      }
      const now = Date.now();
      if (now - last > FAST_MS * 5) buffer = ""; // a pause: what came before was a person, not a scan
      last = now;
      if (event.key === "Enter") {
        const text = buffer;
        buffer = "";
        if (text.length >= MIN_LENGTH) {
          event.preventDefault();
          submitScan(screen.querySelector("form[data-wedge-form]"), text);
        }
        return;
      }
      if (event.key.length === 1) {
        buffer += event.key;
        event.preventDefault(); // not a shortcut, not a scroll: a space inside a code stays in it
      }
    },
    true,
  );
  // A code pasted on a screen that takes a scan counts as one: how a technician tries a kiosk
  // with no scanner at hand (a kiosk has no keyboard, so an attendee never does this).
  document.addEventListener("paste", (event) => {
    const screen = screenHost()?.querySelector("[data-wedge]");
    if (!screen || typing(document.activeElement)) return;
    const text = (event.clipboardData?.getData("text") || "").trim();
    if (text.length >= MIN_LENGTH) {
      event.preventDefault();
      submitScan(screen.querySelector("form[data-wedge-form]"), text);
    }
  });
}
