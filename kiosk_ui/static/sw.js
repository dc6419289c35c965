// The kiosk's service worker (scope /kiosk).  It keeps the shell (CSS, JS, vendored files, the
// "one moment" page in each language) so a kiosk that reloads while the appliance restarts
// shows "one moment" instead of the browser's error page.  It never keeps an API answer, a
// screen or a badge preview: those hold attendees' data.
const VERSION = "__VERSION__";
const CACHE = `kiosk-shell-${VERSION}`;
const LANGUAGES = ["en", "de", "fr", "es", "ja"];
const SHELL = "__SHELL__".split(",").map((name) => `/kiosk/static/${name}?v=${VERSION}`);
const OFFLINE = (lang) => `/kiosk/offline?lang=${lang}`;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([...SHELL, ...LANGUAGES.map(OFFLINE)]))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    const lang = LANGUAGES.includes(url.searchParams.get("lang")) ? url.searchParams.get("lang") : "en";
    event.respondWith(
      fetch(request).catch(async () => (await caches.match(OFFLINE(lang))) || Response.error()),
    );
    return;
  }
  if (url.pathname.startsWith("/kiosk/static/")) {
    // The shell: from the network while it answers (a new release), from the cache while not.
    event.respondWith(fetch(request).catch(async () => (await caches.match(request, { ignoreSearch: true })) || Response.error()));
  }
  // Everything else (API, screens, badge previews, the live feed) goes to the network only.
});
