// The Portti app's service worker: the app's own files are cached so that it opens (and is
// installable) without a connection; the app API is never cached — every answer there is live
// and personal.
const CACHE = "portti-app-v1";
const SHELL = [
  "/app/",
  "/app/manifest.webmanifest",
  "/app/static/app.css",
  "/app/static/app.js",
  "/app/static/api.js",
  "/app/static/crypto.js",
  "/app/static/store.js",
  "/app/static/texts.js",
  "/app/static/scanner.js",
  "/app/static/webauthn.js",
  "/app/static/vendor/jsqr/jsQR.js",
  "/app/static/icon.svg",
  "/app/static/icon-192.png",
  "/app/static/icon-512.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

// Network first for the app's files (a deployment reaches the app at once), the cache when
// offline. Anything outside /app/ (the API) goes straight to the network.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin || !url.pathname.startsWith("/app/")) return;
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(event.request, copy));
        }
        return response;
      })
      .catch(() => caches.match(event.request).then((hit) => hit || caches.match("/app/"))),
  );
});
