// What the signs know, by the rules of docs/signage-protocol.md; no DOM, no network.
//
// - rev: per topic the highest rev seen; a payload whose rev is not higher is ignored. The revs are
//   forgotten on every (re)connect and when appliance/status becomes "online" again on a connection.
// - alerts: an empty payload on alerts/{id} removes it; the highest priority wins, only for the
//   listed rooms (none: every room), and never after expires_at by the appliance's clock.
// - now/next come from the room's retained schedule and the clock, so they advance with no message;
//   the rooms/{room}/now and /next payloads are used while no schedule is known.

const ROOM_PARTS = new Set(["schedule", "now", "next", "capacity"]);

export class Board {
  constructor() {
    this.rooms = {};      // room id -> { schedule, now, next, capacity }
    this.alerts = {};     // alert id -> Alert
    this.status = "";     // "online", "offline" or "" (not heard yet)
    this.revs = new Map(); // topic (after the base) -> highest rev
    this.newestTs = 0;    // the newest "ts" of anything accepted
    this.heardStatus = false; // a status message arrived on this connection
  }

  /** A new connection: the broker sends every retained state again, whatever its rev. */
  connected() {
    this.revs.clear();
    this.heardStatus = false;
  }

  room(id) {
    if (!this.rooms[id]) this.rooms[id] = { schedule: null, now: null, next: null, capacity: null };
    return this.rooms[id];
  }

  /**
   * Take one message; TOPIC is what follows the base (rooms/hall-a/now). Returns what it changed:
   * "" (nothing), "status", "alert" or "room".
   */
  accept(topic, text) {
    const parts = topic.split("/");
    if (topic === "appliance/status") {
      const status = text.trim();
      if (status !== "online" && status !== "offline") return "";
      // The appliance came back (a new session, maybe with a corrected clock). Not on the first status
      // of a connection: the revs were forgotten at connect, and the retained state just came in.
      if (status === "online" && this.status !== "online" && this.heardStatus) this.revs.clear();
      this.heardStatus = true;
      const changed = status !== this.status;
      this.status = status;
      return changed ? "status" : "";
    }
    if (parts[0] === "alerts" && parts.length === 2) {
      if (text === "") {
        this.revs.delete(topic);
        if (!(parts[1] in this.alerts)) return "";
        delete this.alerts[parts[1]];
        return "alert";
      }
      const alert = this.#decode(topic, text);
      if (!alert || typeof alert.text !== "string") return "";
      this.alerts[parts[1]] = alert;
      return "alert";
    }
    if (parts[0] === "rooms" && parts.length === 3 && ROOM_PARTS.has(parts[2])) {
      const payload = this.#decode(topic, text);
      if (!payload) return "";
      this.room(parts[1])[parts[2]] = payload;
      return "room";
    }
    return "";
  }

  #decode(topic, text) {
    let payload;
    try {
      payload = JSON.parse(text);
    } catch {
      return null; // not ours to show: a broken payload is dropped, the last good state stays
    }
    if (!payload || typeof payload !== "object" || typeof payload.rev !== "number") return null;
    const seen = this.revs.get(topic);
    if (seen !== undefined && payload.rev <= seen) return null;
    this.revs.set(topic, payload.rev);
    if (typeof payload.ts === "number" && payload.ts > this.newestTs) this.newestTs = payload.ts;
    return payload;
  }

  /** The session on in ROOM at T, and the ones after it (at most COUNT). */
  program(roomId, t, count = 3) {
    const room = this.rooms[roomId];
    if (!room) return { now: null, next: [] };
    const sessions = room.schedule && Array.isArray(room.schedule.sessions) ? room.schedule.sessions : null;
    if (sessions) {
      const now = sessions.find((s) => s.starts_at <= t && t < s.ends_at) || null;
      const next = sessions.filter((s) => s.starts_at > t).slice(0, count);
      return { now, next };
    }
    const now = room.now && room.now.session && room.now.session.ends_at > t ? room.now.session : null;
    const nextOne = room.next && room.next.session && room.next.session.starts_at > t ? room.next.session : null;
    return { now, next: nextOne ? [nextOne] : [] };
  }

  name(roomId) {
    const schedule = this.rooms[roomId] && this.rooms[roomId].schedule;
    return (schedule && schedule.name) || "";
  }

  timezone(roomId) {
    const schedule = this.rooms[roomId] && this.rooms[roomId].schedule;
    return (schedule && schedule.tz) || "";
  }

  capacity(roomId) {
    return (this.rooms[roomId] && this.rooms[roomId].capacity) || null;
  }

  /** The alert to show in ROOM (or on the wall, ROOM null: alerts for every room) at T. */
  alertFor(roomId, t) {
    let best = null;
    for (const alert of Object.values(this.alerts)) {
      if (typeof alert.expires_at === "number" && alert.expires_at <= t) continue;
      const rooms = Array.isArray(alert.rooms) ? alert.rooms : [];
      if (rooms.length && (roomId === null || !rooms.includes(roomId))) continue;
      const priority = typeof alert.priority === "number" ? alert.priority : 50;
      if (!best || priority > best.priority || (priority === best.priority && alert.rev > best.alert.rev)) {
        best = { alert, priority };
      }
    }
    return best ? best.alert : null;
  }

  /** What survives a reload (localStorage): the state, not the revs (a reload is a new connection). */
  snapshot() {
    return { rooms: this.rooms, alerts: this.alerts, status: this.status, newestTs: this.newestTs };
  }

  restore(saved) {
    if (!saved || typeof saved !== "object") return;
    this.rooms = saved.rooms && typeof saved.rooms === "object" ? saved.rooms : {};
    this.alerts = saved.alerts && typeof saved.alerts === "object" ? saved.alerts : {};
    this.status = typeof saved.status === "string" ? saved.status : "";
    this.newestTs = typeof saved.newestTs === "number" ? saved.newestTs : 0;
  }
}
