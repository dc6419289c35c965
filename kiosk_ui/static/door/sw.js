// The door's service worker (scope /door).  It keeps the page shell (the page holds no one's
// data: names and answers come from the API at run time), its scripts and the kiosk's wedge and
// zxing files the door borrows, so a phone that reloads while the appliance is out of reach
// still opens the door page, with its queue of saved scans (IndexedDB).  API calls and the live
// feed always go to the network: an answer is never taken from a cache.
const VERSION = "__VERSION__";
const CACHE = `door-shell-${VERSION}`;
const PAGE = "/door";
const SHELL = "__SHELL__".split(",");

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([PAGE, ...SHELL]))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("door-shell-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

const fromCache = async (request, options) => (await caches.match(request, options)) || Response.error();

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === PAGE) {
    event.respondWith(fetch(request).catch(() => fromCache(PAGE)));
    return;
  }
  const borrowed = SHELL.includes(url.pathname);
  if (url.pathname.startsWith("/door/static/") || borrowed) {
    // From the network while it answers (a new release), from the cache while not.
    event.respondWith(fetch(request).catch(() => fromCache(request, { ignoreSearch: true })));
  }
  // Everything else (the API, the live feed) goes to the network only.
});
