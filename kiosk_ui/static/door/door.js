// The door scanner: sign in, choose gate/list/direction, scan, show the door's answer full-screen.
// Every rule is the appliance's: this page sends each scan to POST /api/v1/scans and shows what
// comes back.  Each scan is first written to IndexedDB (queue.js) and removed once answered, so
// a scan made while the appliance is out of reach is kept, shown as "saved, not yet confirmed",
// and sent again (same nonce: never a second check-in) when the appliance answers again.
import { session, api } from "./session.js";
import { queue } from "./queue.js";
import { signal, unlockSound } from "./feedback.js";
import { Camera } from "./scanner.js";
import { startWedge } from "/kiosk/static/js/wedge.js";

const $ = (selector) => document.querySelector(selector);
const SECTIONS = ["loading", "signin", "setup", "ready"];
//: After this long without an answer, the scan on screen is shown as saved (it is in IndexedDB).
const SAVED_AFTER_MS = 1500;
//: Queued scans read from IndexedDB at a time while replaying (still sent one by one, in order).
const BATCH = 50;
//: Scans sent at once while replaying (the appliance decides each on its own; the same badge waits).
const IN_FLIGHT = 4;
const SHOW_MS = { admitted: 2500, note: 4000, refused: 8000, saved: 2500, failed: 8000, annulled: 2500 };
const REASONS = {
  already_admitted: "Already admitted",
  invalid: "Not a valid badge",
  revoked: "Badge revoked",
  not_yet_valid: "Not valid yet",
  expired: "No longer valid",
  wrong_list: "Wrong list or ticket",
  unknown_badge: "Unknown badge",
  room_full: "Room full",
};
const SYMBOLS = { admitted: "✔", note: "!", refused: "✖", saved: "◷", failed: "✖", annulled: "↺" };
const strings = {};
for (const item of $("template[data-strings]").content.querySelectorAll("[data-key]")) {
  strings[item.dataset.key] = item.textContent;
}

let setup = session.setup(); // the gates and lists, as last read from the appliance
let liveSeq = null; // the scan on screen now, by its queue number
let liveTimer = null;
let hideTimer = null;
let draining = false;
let retryTimer = null;
let backoff = 1000;
let lastAdmission = null; // {scan_id, name}: what "Annul" undoes
let countsTimer = null;
let feed = null; // the live feed's AbortController
const camera = new Camera($(".camera__video"), (code) => scan(code));

// --- screens ---------------------------------------------------------------------------

function show(section) {
  document.body.dataset.state = section;
  for (const name of SECTIONS) $(`[data-section="${name}"]`).hidden = name !== section;
  const signedIn = section === "setup" || section === "ready";
  $("[data-signout]").hidden = !signedIn;
  $("[data-change]").hidden = section !== "ready";
  const ready = $('[data-section="ready"]');
  if (section === "ready") ready.setAttribute("data-wedge", "");
  else ready.removeAttribute("data-wedge");
  if (section !== "ready") camera.stop();
  showWhere();
}

function notice(text) {
  const element = $("[data-notice]");
  element.textContent = text || "";
  element.hidden = !text;
}

function showWhere() {
  const choice = session.choice();
  const element = $("[data-where]");
  const user = session.get();
  if (!choice || !user || document.body.dataset.state !== "ready") {
    element.hidden = true;
    return;
  }
  const gate = setup?.gates.find((g) => g.id === choice.gate)?.name || choice.gate;
  const list = setup?.lists.find((l) => l.id === choice.list)?.name || choice.list;
  const arrow = choice.direction === "exit" ? "← Exit" : "→ Entry";
  element.textContent = `${gate} · ${list} · ${arrow} · ${user.name}`;
  element.hidden = false;
}

// --- the result, full-screen -------------------------------------------------------------

// A time of day in the event's time zone (never the phone's own, which may be set elsewhere).
function clock(ms, seconds = false) {
  const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (seconds) options.second = "2-digit";
  try {
    return new Date(ms).toLocaleTimeString("en-GB", { ...options, timeZone: setup?.timezone || undefined });
  } catch {
    return new Date(ms).toLocaleTimeString("en-GB", options);
  }
}

function kindOf(answer) {
  if (answer.result !== "admitted") return "refused";
  if (answer.replayed) return "note";
  const first = answer.first_admitted;
  if (answer.direction === "entry" && first && first.at < answer.at) return "note";
  return "admitted";
}

function noteOf(answer, kind) {
  if (kind !== "note") return "";
  if (answer.replayed) return "This scan had been sent before: this is the appliance's first answer to it.";
  const first = answer.first_admitted;
  const gate = setup?.gates.find((g) => g.id === first.gate)?.name || first.gate;
  return `Came in before at ${clock(first.at)} (${gate}): a re-entry.`;
}

function display(kind, { word, reason = "", name = "", ticket = "", note = "", annul = false, scanId = "" }) {
  clearTimeout(hideTimer);
  const box = $("[data-result]");
  box.dataset.kind = kind;
  box.dataset.scanId = scanId;
  $("[data-result-symbol]").textContent = SYMBOLS[kind] || "";
  $("[data-result-word]").textContent = word;
  $("[data-result-reason]").textContent = reason;
  $("[data-result-name]").textContent = name;
  $("[data-result-ticket]").textContent = ticket;
  $("[data-result-note]").textContent = note;
  $("[data-annul]").hidden = !annul;
  box.hidden = false;
  document.body.classList.add("has-result");
  signal(kind === "annulled" ? "saved" : kind);
  // A venue may keep answers longer (localStorage "konferenco.door.show_ms", see docs/door.md).
  const hold = Number(localStorage.getItem("konferenco.door.show_ms")) || SHOW_MS[kind] || 3000;
  hideTimer = setTimeout(dismiss, hold);
}

function dismiss() {
  clearTimeout(hideTimer);
  $("[data-result]").hidden = true;
  document.body.classList.remove("has-result");
}

function showAnswer(answer) {
  const kind = kindOf(answer);
  const word = kind === "refused" ? strings.refused : kind === "note" ? strings.note : answer.direction === "exit" ? strings.exit : strings.admitted;
  const admission = answer.result === "admitted" && answer.direction === "entry" && !answer.replayed;
  display(kind, {
    word,
    reason: answer.reason,
    name: answer.attendee?.name || "",
    ticket: answer.attendee?.ticket_type || "",
    note: noteOf(answer, kind),
    annul: admission,
    scanId: answer.scan_id,
  });
}

function remember(answer) {
  if (answer.result !== "admitted" || answer.direction !== "entry" || answer.replayed) return;
  lastAdmission = { scan_id: answer.scan_id, name: answer.attendee?.name || "" };
  $("[data-last-text]").textContent = `Last admitted: ${lastAdmission.name}`;
  $("[data-last]").hidden = false;
}

// --- scanning ---------------------------------------------------------------------------

async function scan(code) {
  const choice = session.choice();
  if (!choice || !code || document.body.dataset.state !== "ready") return;
  const item = {
    nonce: crypto.randomUUID(),
    code,
    gate: choice.gate,
    list: choice.list,
    direction: choice.direction,
    event: setup?.event,
    device_time: Date.now(),
  };
  let seq;
  try {
    seq = await queue.add(item); // on disk before anything is shown or sent
  } catch {
    display("failed", {
      word: strings.failed,
      reason: "This browser cannot keep scans (storage is off or full), so nothing was sent.",
      note: "Leave private browsing, or free space on this device, then reload the page.",
    });
    return;
  }
  liveSeq = seq;
  clearTimeout(liveTimer);
  liveTimer = setTimeout(() => showSaved(seq), SAVED_AFTER_MS);
  await updatePending();
  drain();
}

function showSaved(seq) {
  if (liveSeq !== seq) return;
  clearTimeout(liveTimer);
  display("saved", {
    word: strings.saved,
    reason: "No answer from the appliance. The scan is kept on this device and will be sent when it answers.",
    note: "Let the person in only if your organizers say so while the appliance is unreachable.",
  });
}

function body(item) {
  const out = { nonce: item.nonce, code: item.code, gate: item.gate, list: item.list, direction: item.direction, device_time: item.device_time };
  if (item.event) out.event = item.event;
  return out;
}

// Send the queue, oldest first; stop at the first scan without an answer.  A few are in flight at
// once (never two of the same badge, whose order matters: an entry, then its exit); answers are
// handled in the order the scans were made.
async function drain() {
  if (draining) return;
  draining = true;
  clearTimeout(retryTimer);
  const removals = [];
  try {
    for (;;) {
      const batch = await queue.oldest(BATCH);
      if (!batch.length) break;
      while (batch.length) {
        const group = [];
        while (batch.length && group.length < IN_FLIGHT && !group.some((g) => g.code === batch[0].code)) {
          group.push(batch.shift());
        }
        const answers = await Promise.allSettled(group.map((item) => api("POST", "/api/v1/scans", body(item))));
        let stop = null;
        group.forEach((item, i) => {
          const sent = answers[i];
          const answer = sent.status === "fulfilled" ? sent.value : null;
          if (!answer || answer.status === 401 || [429, 503, 507].includes(answer.status)) {
            stop = stop || { item, answer }; // stays queued: sent again later, same nonce
            return;
          }
          removals.push(queue.remove(item.seq)); // answered: the next scan need not wait for the disk
          settle(item, answer);
        });
        if (stop) {
          if (stop.answer?.status === 401) signedOut(stop.answer.body.message);
          else offline(stop.item.seq, stop.answer?.body.message);
          return;
        }
        backoff = 1000;
        link("");
      }
      await Promise.all(removals.splice(0)); // before reading the next batch, so none is read twice
      await updatePending(); // the counter goes down as the replay goes on
    }
  } finally {
    await Promise.all(removals);
    draining = false;
    await updatePending();
  }
}

function settle(item, answer) {
  const onScreen = item.seq === liveSeq;
  const savedBefore = !onScreen || $("[data-result]").dataset.kind === "saved";
  if (onScreen) {
    clearTimeout(liveTimer);
    liveSeq = null;
  }
  if (!answer.ok) {
    const message = answer.body.message || `the appliance refused the scan (${answer.status})`;
    if (savedBefore) addReplayed("failed", strings.failed, message, item);
    if (onScreen) display("failed", { word: strings.failed, reason: message, note: "Nothing was recorded. Scan again." });
    return;
  }
  const result = answer.body;
  remember(result);
  if (savedBefore) addReplayed(kindOf(result), result.result === "admitted" ? strings.admitted : strings.refused, result.reason, item, result);
  if (onScreen) showAnswer(result);
  scheduleCounts();
}

function addReplayed(kind, word, reason, item, answer = null) {
  const list = $("[data-replayed]");
  const entry = document.createElement("li");
  entry.className = `replayed__item replayed__item--${kind}`;
  entry.dataset.kind = kind;
  const when = clock(item.device_time, true);
  const name = answer?.attendee?.name ? ` · ${answer.attendee.name}` : "";
  entry.textContent = `${SYMBOLS[kind] || ""} ${word}${name} · ${reason} · scanned ${when}`;
  list.prepend(entry);
  while (list.children.length > 50) list.lastChild.remove();
  $("[data-replayed-section]").hidden = false;
  if (kind === "refused" || kind === "failed") {
    const sentence = reason.replace(/[.\s]+$/, "");
    notice(`A saved scan was refused when it reached the appliance: ${sentence}${name}. See "Answers to saved scans" below.`);
  }
}

function offline(seq, message = "") {
  link(message || "The appliance does not answer. Scans are saved on this device and sent when it answers again.");
  retryTimer = setTimeout(drain, backoff);
  backoff = Math.min(backoff * 2, 15000);
  if (seq === liveSeq) showSaved(seq);
}

function link(text) {
  const element = $("[data-link]");
  element.textContent = text ? `⚠ ${text}` : "";
  element.hidden = !text;
}

async function updatePending() {
  const count = await queue.count();
  const element = $("[data-pending]");
  element.dataset.count = String(count);
  element.textContent = count === 1 ? "1 scan not yet confirmed" : `${count} scans not yet confirmed`;
  element.hidden = count === 0;
  return count;
}

// --- counts for this gate, kept fresh by the live feed ------------------------------------

function scheduleCounts(delay = 250) {
  clearTimeout(countsTimer);
  countsTimer = setTimeout(refreshCounts, delay);
}

async function refreshCounts() {
  const choice = session.choice();
  if (!choice || document.body.dataset.state !== "ready") return;
  const query = new URLSearchParams({ gate: choice.gate, list: choice.list });
  if (setup?.event) query.set("event", setup.event);
  let answer;
  try {
    answer = await api("GET", `/api/v1/door/counts?${query}`);
  } catch {
    return; // the last figures stay; the link line says the appliance is away
  }
  if (!answer.ok) return;
  const counts = answer.body;
  $('[data-count="admitted"]').textContent = String(counts.admitted);
  $('[data-count="inside"]').textContent = String(counts.inside);
  $('[data-count="refused"]').textContent = String(counts.refused);
  const list = $("[data-refusals]");
  list.replaceChildren(
    ...Object.entries(counts.refusals).map(([result, count]) => {
      const item = document.createElement("li");
      item.textContent = `${REASONS[result] || result}: ${count}`;
      return item;
    }),
  );
}

async function follow() {
  if (feed) feed.abort();
  const controller = new AbortController();
  feed = controller;
  let wait = 1000;
  while (feed === controller) {
    try {
      const response = await fetch("/api/v1/live?topics=scan", {
        headers: { Authorization: `Bearer ${session.get()?.token}`, Accept: "text/event-stream" },
        cache: "no-store",
        signal: controller.signal,
      });
      if (!response.ok || !response.body) throw new Error(String(response.status));
      wait = 1000;
      scheduleCounts(0); // what happened while not listening
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value.replace(/\r\n?/g, "\n"); // SSE lines may end in CRLF, CR or LF
        let end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trim()).join("");
          if (!data) continue;
          try {
            const event = JSON.parse(data);
            if (event.gate === session.choice()?.gate) scheduleCounts();
          } catch {
            // a line that is not ours: ignored
          }
        }
      }
    } catch {
      if (controller.signal.aborted) return;
    }
    await new Promise((resolve) => setTimeout(resolve, wait));
    wait = Math.min(wait * 2, 30000);
  }
}

// --- sign-in, set-up, sign-out -----------------------------------------------------------

function signedOut(message) {
  session.set(null);
  if (feed) feed.abort();
  feed = null;
  show("signin");
  const error = $("[data-signin-error]");
  error.textContent = `${message || "Your session has ended."} Sign in again; saved scans are kept and sent after.`;
  error.hidden = false;
}

async function signIn(event) {
  event.preventDefault();
  unlockSound();
  const form = event.target;
  const error = $("[data-signin-error]");
  error.hidden = true;
  const name = form.name.value.trim();
  const secret = form.secret.value;
  if (!name || !secret) {
    error.textContent = "Enter your name and your PIN.";
    error.hidden = false;
    return;
  }
  let answer;
  try {
    answer = await api("POST", "/api/v1/auth/login", { name, secret }, null);
  } catch {
    error.textContent = "The appliance does not answer. Check that this device is on the venue's Wi-Fi, then try again.";
    error.hidden = false;
    return;
  }
  if (!answer.ok) {
    error.textContent = answer.body.message || `Sign-in refused (${answer.status}).`;
    error.hidden = false;
    form.secret.value = "";
    form.secret.focus();
    return;
  }
  form.secret.value = "";
  session.set({ token: answer.body.token, name: answer.body.name, role: answer.body.role, expires_at: answer.body.expires_at });
  const loaded = await loadSetup();
  if (loaded === "refused") {
    // e.g. a kiosk's account: signed in, but not one that may run a door
    session.set(null);
    notice("");
    error.textContent = `${refusal} Sign in with a door account.`;
    error.hidden = false;
    return;
  }
  if (session.choice() && (await updatePending()) > 0) ready();
  else showSetup();
}

let refusal = "";

// The gates and lists from the appliance: "ok", "refused" (this account may not run a door) or "offline".
async function loadSetup() {
  try {
    const answer = await api("GET", "/api/v1/door/setup");
    if (answer.status === 401) {
      refusal = answer.body.message || "";
      signedOut(answer.body.message);
      return "refused";
    }
    if (!answer.ok) {
      refusal = answer.body.message || "The appliance refused to list the gates.";
      notice(refusal);
      return "refused";
    }
    setup = answer.body;
    session.setSetup(setup);
    return "ok";
  } catch {
    return "offline";
  }
}

function option(select, value, text, selected) {
  const element = document.createElement("option");
  element.value = value;
  element.textContent = text;
  element.selected = selected;
  select.append(element);
}

function showSetup() {
  if (!setup) {
    notice("The appliance has not answered yet, so the gates are not known. Reload when it answers.");
    show("setup");
    return;
  }
  const choice = session.choice() || {};
  const form = $("[data-setup-form]");
  $("[data-event-name]").textContent = setup.event_name;
  form.gate.replaceChildren();
  form.list.replaceChildren();
  for (const gate of setup.gates) option(form.gate, gate.id, gate.name, gate.id === choice.gate);
  for (const list of setup.lists) option(form.list, list.id, list.name, list.id === choice.list);
  if (!choice.list) form.list.value = setup.gates.find((g) => g.id === form.gate.value)?.default_list || form.list.value;
  for (const radio of form.direction) radio.checked = radio.value === (choice.direction || "entry");
  show("setup");
}

function chooseGate(event) {
  // a new gate suggests its usual list; the volunteer can still pick another
  const gate = setup?.gates.find((g) => g.id === event.target.value);
  if (gate?.default_list) $("[data-setup-form]").list.value = gate.default_list;
}

function saveSetup(event) {
  event.preventDefault();
  unlockSound();
  const form = event.target;
  if (!form.gate.value || !form.list.value) {
    const error = $("[data-setup-error]");
    error.textContent = "Choose a gate and a list.";
    error.hidden = false;
    return;
  }
  session.setChoice({ gate: form.gate.value, list: form.list.value, direction: form.direction.value || "entry" });
  ready();
}

function ready() {
  show("ready");
  $("[data-replayed-section]").hidden = $("[data-replayed]").children.length === 0;
  refreshCounts();
  follow();
  drain();
}

async function signOut() {
  const pending = await updatePending();
  if (pending > 0) {
    notice(`Sign-out refused: ${pending} ${pending === 1 ? "scan is" : "scans are"} not yet confirmed by the appliance. Stay signed in until the counter is gone.`);
    return;
  }
  notice("");
  session.set(null);
  lastAdmission = null;
  $("[data-last]").hidden = true;
  if (feed) feed.abort();
  feed = null;
  show("signin");
}

async function annul() {
  dismiss();
  if (!lastAdmission) return;
  const target = lastAdmission;
  let answer;
  try {
    answer = await api("POST", `/api/v1/scans/${encodeURIComponent(target.scan_id)}/annul`, { reason: "annulled at the door" });
  } catch {
    notice("The appliance does not answer: the admission is not annulled. Try again when it answers.");
    return;
  }
  if (!answer.ok) {
    notice(answer.body.message || `The appliance refused to annul (${answer.status}).`);
    return;
  }
  notice("");
  lastAdmission = null;
  $("[data-last]").hidden = true;
  display("annulled", { word: strings.annulled, reason: `${target.name}'s admission no longer counts.` });
  scheduleCounts(0);
}

async function startCamera() {
  unlockSound();
  const status = $("[data-camera-status]");
  $("[data-camera]").hidden = false;
  $("[data-camera-start]").hidden = true;
  $("[data-camera-stop]").hidden = false;
  status.textContent = "Starting the camera…";
  try {
    await camera.start();
    status.textContent = "Looking for a badge…";
  } catch {
    status.textContent = "No camera here, or it was not allowed. Use a handheld scanner or type the code.";
    $("[data-camera-start]").hidden = false;
    $("[data-camera-stop]").hidden = true;
  }
}

function stopCamera() {
  camera.stop();
  $("[data-camera]").hidden = true;
  $("[data-camera-start]").hidden = false;
  $("[data-camera-stop]").hidden = true;
}

function manual(event) {
  event.preventDefault();
  const input = event.target.code;
  const code = input.value.trim();
  input.value = "";
  if (code) scan(code);
}

// --- start -------------------------------------------------------------------------------

async function start() {
  $("[data-signin-form]").addEventListener("submit", signIn);
  $("[data-setup-form]").addEventListener("submit", saveSetup);
  $("#setup-gate").addEventListener("change", chooseGate);
  $("[data-manual-form]").addEventListener("submit", manual);
  $("[data-signout]").addEventListener("click", signOut);
  $("[data-change]").addEventListener("click", () => {
    loadSetup().finally(showSetup);
  });
  $("[data-dismiss]").addEventListener("click", dismiss);
  $("[data-annul]").addEventListener("click", annul);
  $("[data-annul-last]").addEventListener("click", annul);
  $("[data-camera-start]").addEventListener("click", startCamera);
  $("[data-camera-stop]").addEventListener("click", stopCamera);
  document.addEventListener("pointerdown", unlockSound, { once: true });
  startWedge(() => $("#door"));
  window.addEventListener("online", () => drain());
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/door/sw.js", { scope: "/door" }).catch(() => {});

  await updatePending();
  const user = session.get();
  if (!user || (user.expires_at && user.expires_at * 1000 < Date.now())) {
    if (user) session.set(null);
    show("signin");
    return;
  }
  if (session.choice()) {
    ready(); // a reload: straight back to scanning, offline too (the choice and the names are stored)
    loadSetup().then(showWhere);
  } else {
    await loadSetup();
    showSetup();
  }
}

start();
