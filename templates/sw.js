// Sourcemark's service worker (served by config.views.service_worker): keeps the app shell and
// the pages an analyst has open or in their queue, so reading and annotating go on offline.
// Decisions are not its business: the page queues them itself (static/offline.js).
// - static files: from the cache first (their names change with their content);
// - pages (and the labels' style sheet): from the network, kept for later, and from the cache
//   when the network fails;
// - htmx fragments (an HX-Request header): always the network, never kept, never from the cache;
// - anything else (POSTs, other origins): untouched.
"use strict";

const SHELL_CACHE = "sourcemark-shell-{{ version }}";
const PAGE_CACHE = "sourcemark-pages";
const SHELL = {{ shell|safe }};
const STATIC_PREFIX = {{ static_prefix|safe }};
const LOGIN = {{ login|safe }};

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names
      .filter((name) => name.startsWith("sourcemark-shell-") && name !== SHELL_CACHE)
      .map((name) => caches.delete(name))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (request.headers.get("HX-Request")) return;
  if (url.pathname.startsWith(STATIC_PREFIX)) {
    event.respondWith(caches.match(request, { ignoreVary: true }).then((hit) => hit || fetch(request)));
    return;
  }
  event.respondWith(networkFirst(request));
});

// A page worth keeping: a whole HTML page (or the labels' style sheet), answered as asked for,
// not a redirect to the login page or an error.
function keepable(request, response) {
  const type = response.headers.get("Content-Type") || "";
  return response.ok && !response.redirected && response.type === "basic" &&
    (type.startsWith("text/html") || type.startsWith("text/css")) &&
    !new URL(request.url).pathname.startsWith(LOGIN);
}

async function networkFirst(request) {
  try {
    const response = await fetch(request);
    if (keepable(request, response)) {
      const copy = response.clone();
      caches.open(PAGE_CACHE).then((cache) => cache.put(withoutFragment(request.url), copy));
    }
    return response;
  } catch (error) {
    const hit = await caches.match(withoutFragment(request.url), { ignoreVary: true });
    return hit || offlinePage(request);
  }
}

function withoutFragment(address) {
  const url = new URL(address);
  url.hash = "";
  return url.href;
}

function offlinePage(request) {
  if (request.mode !== "navigate") return Response.error();
  return new Response(
    "<!doctype html><html lang=en><meta charset=utf-8><title>Offline · Sourcemark</title>" +
    "<link rel=stylesheet href=\"" + SHELL[0] + "\"><header class=topbar><span class=brand>" +
    "Sourcemark</span><span class=\"sync-status is-offline\">offline</span></header>" +
    "<main class=offline-page><h1>You are offline</h1>" +
    "<p>This page was not kept for offline use. Pages you have opened, and the articles in " +
    "<em>My articles</em>, are. Your decisions are kept in this browser and sent when the " +
    "connection is back.</p><p><a href=\"/\">The articles</a></p></main>",
    { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

// From the pages: {type: "keep", urls: [...]} fetches and keeps those pages (the analyst's
// queue, an article after a decision); {type: "forget"} drops every kept page (logging out).
self.addEventListener("message", (event) => {
  const message = event.data || {};
  if (message.type === "keep") {
    event.waitUntil(caches.open(PAGE_CACHE).then((cache) => Promise.all(message.urls.map((address) =>
      fetch(address, { credentials: "same-origin" })
        .then((response) => keepable(new Request(address), response) ? cache.put(withoutFragment(address), response) : null)
        .catch(() => null)))));
  } else if (message.type === "forget") {
    event.waitUntil(caches.delete(PAGE_CACHE));
  }
});
