// The volunteer's session and choices, kept in this browser's localStorage so a reload (or a
// phone that slept) neither signs them out nor forgets the gate.  The token is a staff token
// for this door account only, valid for a shift; the page's CSP forbids inline and foreign
// scripts, which is what keeps another script from reading it.  Signing out removes it.
const SESSION = "konferenco.door.session";
const CHOICE = "konferenco.door.choice";
const SETUP = "konferenco.door.setup";
export const TIMEOUT_MS = 5000;

function read(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

function write(key, value) {
  if (value === null) localStorage.removeItem(key);
  else localStorage.setItem(key, JSON.stringify(value));
}

export const session = {
  get: () => read(SESSION),
  set: (value) => write(SESSION, value),
  choice: () => read(CHOICE),
  setChoice: (value) => write(CHOICE, value),
  setup: () => read(SETUP),
  setSetup: (value) => write(SETUP, value),
};

// The appliance's answer as {ok, status, body}; throws only when there is no answer at all
// (network down, appliance off, timeout): the one case the door treats as "offline".
export async function api(method, path, body, token = session.get()?.token) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  try {
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      signal: controller.signal,
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    return { ok: response.ok, status: response.status, body: data || {} };
  } finally {
    clearTimeout(timer);
  }
}
