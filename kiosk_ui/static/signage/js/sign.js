// A room sign (/signage/{room}) or the wall (/signage/wall): MQTT state on a full screen.
//
// Start: draw what localStorage kept (a reload with the broker down still shows the last state),
// measure the appliance's clock and get the broker's address and read-only credentials
// (GET /api/v1/signage/access), connect. Then: every message goes through the Board's rules,
// the screen is redrawn once a second only if what it shows changed (now/next advance with the
// clock, with no message), and the age of the data is shown once the sign has had no live link
// (connected, and the appliance "online") for longer than stale_after_ms (3 × the publisher's 5 s).

import { ApplianceClock, age, fetchAccess, formatter, labeller } from "./clock.js";
import { Board } from "./board.js";
import { Link } from "./link.js";
import * as view from "./view.js";

const VIEW = document.body.dataset.view;
const ROOM = document.body.dataset.room || "";
const KEY = `konferenco-sign:${VIEW}:${ROOM}`;
const TICK_MS = 1000;
const HEARTBEAT_MS = 30000;
const RECHECK_MS = 5 * 60 * 1000;
const SAVE_EVERY_MS = 10000;
const VERSION = "konferenco-sign 1";

const $ = (id) => document.getElementById(id);

function load() {
  try {
    return JSON.parse(localStorage.getItem(KEY) || "{}") || {};
  } catch {
    return {};
  }
}

const stored = load();
const clientId = /^[A-Za-z0-9_.:-]{1,64}$/.test(stored.clientId || "")
  ? stored.clientId
  : `sign-${ROOM || "wall"}`.slice(0, 50) + "-" + Math.random().toString(16).slice(2, 10);
const board = new Board();
board.restore(stored.board);
let access = stored.access || null; // without the password: that is asked for again
let lastLive = typeof stored.lastLive === "number" ? stored.lastLive : 0;
const clock = new ApplianceClock(Math.max(lastLive, board.newestTs));
let link = null;
let connected = false;
let version = 0; // bumped by every accepted change
let drawn = "";
let savedAt = 0;
let problem = "";
const commands = [];
let identifyUntil = 0;

function staleAfter() {
  return (access && access.stale_after_ms) || 15000;
}

function live() {
  return connected && board.status === "online";
}

function save(force = false) {
  const t = performance.now();
  if (!force && t - savedAt < SAVE_EVERY_MS) return;
  savedAt = t;
  try {
    localStorage.setItem(KEY, JSON.stringify({ board: board.snapshot(), access, lastLive, clientId }));
  } catch {
    // full or disabled storage: the sign still works, it only forgets on reload
  }
}

function roomName(id) {
  const known = access && Array.isArray(access.rooms) ? access.rooms.find((r) => r.id === id) : null;
  return board.name(id) || (known && known.name) || id;
}

function timezone() {
  return (access && access.timezone) || board.timezone(ROOM) || "UTC";
}

function drawRoom(t, fmt) {
  const program = board.program(ROOM, t, 3);
  const cap = view.capacityText(board.capacity(ROOM));
  const alert = board.alertFor(ROOM, t);
  const name = roomName(ROOM);
  const key = JSON.stringify([
    version, name, program.now && program.now.id, program.next.map((s) => s.id),
    program.now ? Math.ceil((program.now.ends_at - t) / 60000) : program.next[0] ? Math.ceil((program.next[0].starts_at - t) / 60000) : 0,
    alert && [alert.id, alert.rev], timezone(),
  ]);
  if (key === drawn) return;
  drawn = key;
  $("title").textContent = name;
  document.title = `${name} · Konferenco`;
  $("now").replaceChildren(...view.nowBlock(program.now, program.next[0], t, fmt));
  $("next").replaceChildren(...view.nextItems(program.next, fmt));
  const box = $("capacity");
  if (cap) {
    const bar = $("capacity-bar");
    bar.hidden = !cap.max;
    bar.max = cap.max || 1;
    bar.value = cap.value;
    bar.className = `bar ${cap.state}`;
    const text = $("capacity-text");
    text.textContent = cap.text;
    text.className = `capacity-text ${cap.state}`;
    box.hidden = false;
  } else {
    box.hidden = true;
  }
  view.showAlert($("alert"), alert);
}

function drawWall(t, fmt) {
  const ids = access && Array.isArray(access.rooms) ? access.rooms.map((r) => r.id) : [];
  for (const id of Object.keys(board.rooms).sort()) if (!ids.includes(id)) ids.push(id);
  const alert = board.alertFor(null, t);
  const programs = ids.map((id) => board.program(id, t, 1));
  const key = JSON.stringify([
    version, ids, programs.map((p) => [p.now && p.now.id, p.now && Math.ceil((p.now.ends_at - t) / 60000), p.next.map((s) => s.id)]),
    alert && [alert.id, alert.rev], timezone(),
  ]);
  if (key === drawn) return;
  drawn = key;
  $("title").textContent = (access && access.event_name) || "Today";
  const cards = ids.map((id, i) => view.wallCard(roomName(id), programs[i], board.capacity(id), t, fmt));
  $("wall").replaceChildren(...(cards.length ? cards : [view.el("p", "quiet", "No rooms yet")]));
  view.showAlert($("alert"), alert);
}

let clockShown = "";
let footShown = "";

function drawFoot(t) {
  let state = "";
  let ageText = "";
  const quiet = t - lastLive;
  if (problem) state = `⚠ ${problem}`;
  else if (board.status === "offline") state = "⚠ Appliance offline";
  else if (!connected && (lastLive === 0 || quiet > staleAfter())) state = "⚠ No connection";
  if (!live() && lastLive > 0 && quiet > staleAfter()) ageText = `Updated ${age(quiet)} ago`;
  const identify = performance.now() < identifyUntil ? `Display ${clientId}` : "";
  const data = document.body.dataset; // for tests and for a technician's devtools
  data.link = connected ? "up" : "down";
  data.status = board.status || "unknown";
  data.stale = ageText ? "yes" : "no";
  const key = `${state}|${ageText}|${identify}`;
  if (key === footShown) return;
  footShown = key;
  $("link-state").textContent = state;
  $("age").textContent = ageText;
  $("identify").textContent = identify;
  $("identify").hidden = !identify;
}

function draw() {
  const t = clock.now();
  if (live()) lastLive = t;
  const shown = formatter(timezone()).format(t);
  const fmt = labeller(timezone(), t);
  if (shown !== clockShown) {
    clockShown = shown;
    $("clock").textContent = shown;
  }
  if (VIEW === "wall") drawWall(t, fmt);
  else drawRoom(t, fmt);
  drawFoot(t);
}

function command(text) {
  let cmd;
  try {
    cmd = JSON.parse(text);
  } catch {
    return;
  }
  if (!cmd || typeof cmd.cid !== "string" || commands.includes(cmd.cid)) return;
  commands.push(cmd.cid);
  if (commands.length > 50) commands.shift();
  const ttl = typeof cmd.ttl_ms === "number" ? cmd.ttl_ms : 30000;
  if (typeof cmd.ts === "number" && cmd.ts + ttl < clock.now()) return; // delayed by a reconnect
  if (cmd.command === "reload") {
    save(true);
    location.reload();
  } else if (cmd.command === "identify") {
    const seconds = cmd.args && typeof cmd.args.seconds === "number" ? cmd.args.seconds : 10;
    identifyUntil = performance.now() + Math.min(600, Math.max(1, seconds)) * 1000;
  } else if (cmd.command === "collect_now") {
    measure().catch(() => {});
  }
  draw();
}

function onMessage(topic, text) {
  if (topic === `displays/${clientId}/cmd`) {
    command(text);
    return;
  }
  if (!board.accept(topic, text)) return;
  clock.seen(board.newestTs);
  version += 1;
  draw();
  save(true);
}

function onState(up) {
  connected = up;
  if (up) board.connected(); // a new connection: the broker sends every retained state again
  draw();
}

function heartbeat() {
  if (!link) return;
  const schedule = ROOM && board.rooms[ROOM] ? board.rooms[ROOM].schedule : null;
  const beat = { ts: Math.round(clock.now()), uptime_s: Math.floor(performance.now() / 1000), screen_on: !document.hidden, version: VERSION };
  if (ROOM) beat.room = ROOM;
  if (schedule && typeof schedule.rev === "number") beat.content_rev = schedule.rev;
  link.publish(`displays/${clientId}/heartbeat`, JSON.stringify(beat));
}

async function measure() {
  const answer = await fetchAccess(clock);
  const { broker, ...rest } = answer;
  access = rest; // the password is never stored
  problem = answer.broker ? "" : "Signs not set up";
  version += 1;
  return answer;
}

async function connect() {
  let answer = null;
  for (let wait = 1000; !answer; wait = Math.min(wait * 2, 30000)) {
    try {
      answer = await measure();
    } catch {
      draw(); // keep showing the stored state, with its age
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
  draw();
  if (!answer.broker) return;
  const filters = VIEW === "wall"
    ? ["rooms/#", "alerts/+", "appliance/status", `displays/${clientId}/cmd`]
    : [`rooms/${ROOM}/#`, "alerts/+", "appliance/status", `displays/${clientId}/cmd`];
  link = new Link(answer.broker, clientId, filters, { onMessage, onState });
  link.start();
}

draw();
setInterval(() => {
  draw();
  if (live()) save();
}, TICK_MS);
setInterval(heartbeat, HEARTBEAT_MS);
setInterval(() => measure().catch(() => {}), RECHECK_MS);
window.addEventListener("pagehide", () => save(true));
connect();
