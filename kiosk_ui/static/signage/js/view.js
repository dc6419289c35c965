// Drawing the signs: text only through textContent (a title is never HTML), every colour with a word.

import { duration } from "./clock.js";

const LEVELS = {
  emergency: ["⚠", "Emergency"],
  warning: ["⚠", "Warning"],
  info: ["ℹ", "Notice"],
};
const CAPACITY_WORDS = { open: "Seats free", nearly_full: "Nearly full", full: "Full" };

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function span(fmt, session) {
  return `${fmt.format(session.starts_at)}–${fmt.format(session.ends_at)}`;
}

function people(session) {
  const speakers = Array.isArray(session.speakers) ? session.speakers.filter(Boolean) : [];
  if (speakers.length) return speakers.join(", ");
  return session.host ? `Hosted by ${session.host}` : "";
}

function badge(session) {
  return session.grassroots ? el("span", "badge", "★ Grassroots") : null;
}

/** The "now" block of a room sign. */
export function nowBlock(session, next, t, fmt) {
  if (!session) {
    const nodes = [el("p", "now-title quiet", "Nothing on now")];
    if (next) nodes.push(el("p", "when", `The next session starts in ${duration(next.starts_at - t)}`));
    return nodes;
  }
  const title = el("p", "now-title", session.title);
  const mark = badge(session);
  if (mark) title.append(" ", mark);
  const nodes = [title];
  const who = people(session);
  if (who) nodes.push(el("p", "speakers", who));
  const when = el("p", "when", `${span(fmt, session)} · `);
  when.append(el("strong", "left", `${duration(session.ends_at - t)} left`));
  nodes.push(when);
  return nodes;
}

/** The "next" list: time, title, speakers. */
export function nextItems(sessions, fmt) {
  if (!sessions.length) return [el("li", "quiet", "Nothing more today")];
  return sessions.map((s) => {
    const item = el("li", "next-item");
    item.append(el("span", "next-time", fmt.format(s.starts_at)));
    const body = el("span", "next-body");
    const title = el("span", "next-title", s.title);
    const mark = badge(s);
    if (mark) title.append(" ", mark);
    body.append(title);
    const who = people(s);
    if (who) body.append(el("span", "next-who", who));
    item.append(body);
    return item;
  });
}

/** Occupancy: [words, state class, value, max] or null when the room's capacity is unknown. */
export function capacityText(capacity) {
  if (!capacity || typeof capacity.count !== "number") return null;
  const state = CAPACITY_WORDS[capacity.state] ? capacity.state : "open";
  if (!capacity.capacity) return { text: `${capacity.count} inside`, state: "unknown", value: 0, max: 0 };
  const word = CAPACITY_WORDS[state];
  const text = state === "full"
    ? `⚠ ${word} · ${capacity.count} of ${capacity.capacity} seats taken`
    : `${word} · ${capacity.count} of ${capacity.capacity} seats taken`;
  return { text, state, value: Math.min(capacity.count, capacity.capacity), max: capacity.capacity };
}

/** Fill the alert banner (or hide it). */
export function showAlert(box, alert) {
  if (!alert) {
    box.hidden = true;
    box.className = "alert";
    return;
  }
  const [symbol, word] = LEVELS[alert.level] || LEVELS.info;
  box.className = `alert ${LEVELS[alert.level] ? alert.level : "info"}`;
  box.querySelector("#alert-level").textContent = `${symbol} ${word}:`;
  box.querySelector("#alert-text").textContent = alert.text;
  box.hidden = false;
}

/** One room's card on the wall. */
export function wallCard(name, program, capacity, t, fmt) {
  const card = el("article", "card");
  card.append(el("h2", "card-name", name));
  const now = program.now;
  if (now) {
    const title = el("p", "card-now", now.title);
    const mark = badge(now);
    if (mark) title.append(" ", mark);
    card.append(title);
    const when = el("p", "card-when", `${span(fmt, now)} · `);
    when.append(el("strong", "left", `${duration(now.ends_at - t)} left`));
    card.append(when);
  } else {
    card.append(el("p", "card-now quiet", "Nothing on now"));
  }
  const next = program.next[0];
  card.append(el("p", "card-next", next ? `Next ${fmt.format(next.starts_at)}: ${next.title}` : "Nothing more today"));
  const cap = capacityText(capacity);
  if (cap) {
    if (cap.max) {
      const bar = el("progress", `bar ${cap.state}`);
      bar.max = cap.max;
      bar.value = cap.value;
      bar.setAttribute("aria-label", `Seats in ${name}`);
      card.append(bar);
    }
    card.append(el("p", `card-capacity ${cap.state}`, cap.text));
  }
  return card;
}
