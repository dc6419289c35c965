// The appliance's clock, as a sign keeps it: never the TV's own wall clock (often wrong, sometimes
// years off without NTP). The offset is measured from GET /api/v1/signage/access ("now", taken
// half-way through the round trip) and advanced with performance.now(), which is monotonic: a TV
// whose clock jumps does not move the sign. Every payload's "ts" is a lower bound for the time
// (it was published already), so a sign that could not measure yet is corrected by the first message.

export class ApplianceClock {
  constructor(fallbackMs = 0) {
    this.baseMs = fallbackMs;     // the appliance's time at ...
    this.basePerf = performance.now(); // ... this monotonic instant
    this.measured = false;
  }

  now() {
    return this.baseMs + (performance.now() - this.basePerf);
  }

  /** The appliance said NOW_MS; the request took RTT_MS (its answer is about half-way). */
  set(nowMs, rttMs) {
    this.baseMs = nowMs + Math.max(0, rttMs) / 2;
    this.basePerf = performance.now();
    this.measured = true;
  }

  /** A payload stamped TS by the appliance: the time is at least that. */
  seen(ts) {
    if (typeof ts === "number" && ts > this.now()) {
      this.baseMs = ts;
      this.basePerf = performance.now();
    }
  }
}

/** Measure the clock against the appliance; returns the access answer (or throws). */
export async function fetchAccess(clock) {
  const started = performance.now();
  const response = await fetch("/api/v1/signage/access", { cache: "no-store" });
  if (!response.ok) throw new Error(`access answered ${response.status}`);
  const access = await response.json();
  clock.set(access.now, performance.now() - started);
  return access;
}

const FORMATS = new Map(); // made once per zone and kind: the sign redraws every second for months

function cached(kind, tz, options) {
  const key = `${kind}|${tz}`;
  if (!FORMATS.has(key)) {
    let made;
    try {
      made = new Intl.DateTimeFormat(kind === "day" ? "en-CA" : "en-GB", { ...options, timeZone: tz });
    } catch {
      made = new Intl.DateTimeFormat(kind === "day" ? "en-CA" : "en-GB", { ...options, timeZone: "UTC" });
    }
    FORMATS.set(key, made);
  }
  return FORMATS.get(key);
}

export function formatter(tz) {
  return cached("time", tz, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

/**
 * Times as a sign labels them at T: "14:00" today, "Tue 10:00" on another day (a room's schedule
 * may hold tomorrow's sessions; a bare "10:00" would send people to the wrong day).
 */
export function labeller(tz, t) {
  const time = formatter(tz);
  const day = cached("day", tz, { year: "numeric", month: "2-digit", day: "2-digit" });
  const weekday = cached("weekday", tz, { weekday: "short" });
  const today = day.format(t);
  return {
    format(ms) {
      return day.format(ms) === today ? time.format(ms) : `${weekday.format(ms)} ${time.format(ms)}`;
    },
  };
}

/** "45 min", "1 h 05 min": how long until END_MS from NOW_MS (rounded up to the minute). */
export function duration(ms) {
  const minutes = Math.max(0, Math.ceil(ms / 60000));
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** "20 s", "4 min", "2 h": the age of the data, coarse on purpose (it changes slowly on screen). */
export function age(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h`;
}
