// Working offline: the service worker keeps the pages (templates/sw.js); this keeps the
// decisions. A decision taken while the connection is down (or that failed on the way) is
// applied to the page at once and queued in IndexedDB with its idempotency key and the version
// it was based on. When the connection is back the queue is sent in order: a decision the
// server already applied is answered from its idempotency record; one whose version is stale is
// kept aside for the analyst to choose; an ended session keeps the queue and asks for a log-in.
// Nothing from a CDN, no build step.
(function () {
  "use strict";

  var body = document.body;
  var user = body.dataset.user || "";
  var DB_NAME = "sourcemark-offline", STORE = "decisions";
  var replaying = false, needsLogin = false;

  // ---- the queue (IndexedDB: survives closing the tab and the browser) ----------------------

  function openDb() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE, { keyPath: "seq", autoIncrement: true });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function withStore(mode, work) {
    return openDb().then(function (db) {
      return new Promise(function (resolve, reject) {
        var transaction = db.transaction(STORE, mode);
        var result = work(transaction.objectStore(STORE));
        transaction.oncomplete = function () { db.close(); resolve(result && result.result !== undefined ? result.result : result); };
        transaction.onerror = function () { db.close(); reject(transaction.error); };
      });
    });
  }

  function allItems() {
    return withStore("readonly", function (store) { return store.getAll(); }).then(function (items) {
      return items.filter(function (item) { return item.user === user; });
    });
  }

  function putItem(item) { return withStore("readwrite", function (store) { return store.put(item); }); }
  function removeItem(seq) { return withStore("readwrite", function (store) { return store.delete(seq); }); }

  // ---- what a decision is, from its address --------------------------------------------------

  var ROUTES = [
    [/\/mentions\/(\d+)\/(confirm|reject|relabel|resize|delete)\/$/, "mention"],
    [/\/mentions\/(\d+)\/link\/(accept|clear|change)\/$/, "mention-link"],
    [/\/claims\/(\d+)\/(confirm|reject|resize|span|speaker|cue|grade|delete|link|unlink)\/$/, "claim"],
    [/\/articles\/(\d+)\/(mentions\/add|claims\/add|undo|confirm-all|submit)\/$/, "article"]
  ];

  function describe(path) {
    for (var i = 0; i < ROUTES.length; i++) {
      var match = ROUTES[i][0].exec(path);
      if (match) return { kind: ROUTES[i][1], id: match[1], action: match[2] };
    }
    return null;
  }

  function articleId() {
    var text = document.getElementById("article-text");
    return text ? text.dataset.article : null;
  }

  // ---- applying a queued decision to the page ------------------------------------------------

  var STATUS_WORDS = { confirmed: "Confirmed", rejected: "Rejected", suggested: "Suggested" };

  function setStatus(element, status) {
    if (!element) return;
    element.className = element.className.replace(/\bis-(suggested|confirmed|rejected)\b/g, "").trim() + " is-" + status;
    element.dataset.status = status;
  }

  function bumpVersion(element) {
    if (element && element.dataset.version) element.dataset.version = String(Number(element.dataset.version) + 1);
  }

  function markPending(element, what) {
    if (!element) return;
    element.classList.add("is-pending");
    element.dataset.pending = what;
  }

  function applyMention(decision, params) {
    var mark = document.getElementById("mention-" + decision.id);
    var row = document.getElementById("mention-row-" + decision.id);
    if (!mark && !row) return;
    var status = { confirm: "confirmed", reject: "rejected" }[decision.action];
    if (status) {
      setStatus(mark, status);
      setStatus(row, status);
      var word = row && row.querySelector(".mention-status");
      if (word) word.textContent = STATUS_WORDS[status] + " · waiting to be sent";
    } else if (decision.action === "relabel" && mark) {
      var label = params.get("label") || "";
      mark.className = mark.className.replace(/\blabel-[\w-]+/, "label-" + label.toLowerCase());
      mark.dataset.label = label;
      setStatus(mark, "confirmed");
      setStatus(row, "confirmed");
    } else if (decision.action === "delete") {
      if (mark) mark.replaceWith(document.createTextNode(mark.textContent));
      if (row) row.hidden = true;
      return;
    }
    bumpVersion(mark);
    markPending(mark, decision.action);
    markPending(row, decision.action);
  }

  function applyClaim(decision) {
    var span = document.getElementById("claim-" + decision.id);
    var row = document.getElementById("claim-row-" + decision.id);
    var status = { confirm: "confirmed", reject: "rejected" }[decision.action];
    if (status) { setStatus(span, status); setStatus(row, status); }
    if (decision.action === "delete") {
      if (row) row.hidden = true;
      if (span) span.classList.add("is-deleted");
    }
    bumpVersion(span);
    bumpVersion(row);
    markPending(span, decision.action);
    markPending(row, decision.action);
  }

  // A new mention: drawn over its characters when they lie in one run of text.
  function applyAdd(params, key) {
    var text = document.getElementById("article-text");
    var start = Number(params.get("start")), end = Number(params.get("end"));
    if (!text || !(end > start)) return;
    var walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT), node, total = 0;
    while ((node = walker.nextNode())) {
      var length = node.nodeValue.length;
      if (start >= total && end <= total + length && !node.parentElement.closest("mark")) {
        var range = document.createRange();
        range.setStart(node, start - total);
        range.setEnd(node, end - total);
        var mark = document.createElement("mark");
        mark.className = "mark label-" + (params.get("label") || "").toLowerCase() + " is-confirmed is-pending";
        mark.dataset.pending = "add";
        mark.dataset.offline = key;
        range.surroundContents(mark);
        return;
      }
      total += length;
    }
  }

  function apply(item) {
    var decision = describe(item.url);
    if (!decision) return;
    var params = new URLSearchParams(item.body);
    if (decision.kind === "mention") applyMention(decision, params);
    else if (decision.kind === "claim") applyClaim(decision);
    else if (decision.kind === "article" && decision.action === "mentions/add") applyAdd(params, item.key);
  }

  // ---- taking decisions while offline ----------------------------------------------------------

  var waiting = 0;  // decisions in the queue for this user (any article)

  function queue(config) {
    var decision = describe(config.path);
    var item = {
      user: user, url: config.path, key: config.headers["Idempotency-Key"],
      body: new URLSearchParams(config.formData).toString(),
      article: decision && decision.kind === "article" ? decision.id : articleId(),
      page: location.pathname, what: whatOf(config), state: "waiting", queued: new Date().toISOString()
    };
    waiting += 1;
    apply(item);
    showStatus();
    say("Kept in this browser: " + item.what + ". It is sent when the connection is back.");
    return putItem(item).then(refreshCount);
  }

  function whatOf(config) {
    var decision = describe(config.path);
    if (!decision) return "a change";
    var element = config.elt && config.elt.closest ? config.elt.closest("[data-mention], [data-claim]") : null;
    var subject = element ? "“" + (element.textContent || "").trim().slice(0, 60) + "”" : "";
    return decision.action.replace("mentions/add", "add a mention").replace("claims/add", "add a claim") +
      (subject ? " " + subject : "");
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var config = event.detail.requestConfig;
    if (!config || config.verb === "get" || !describe(config.path)) return;
    // Offline, or behind decisions still waiting: queue it, so the order holds.
    if (navigator.onLine && waiting === 0 && !needsLogin) return;
    event.preventDefault();
    queue(config);
  });

  // Sent but no answer (the connection dropped on the way): queue it with the same key; if it
  // did arrive, the server answers the replay from its record and changes nothing.
  document.addEventListener("htmx:sendError", function (event) {
    var config = event.detail.requestConfig;
    if (config && config.verb !== "get" && describe(config.path)) queue(config);
  });

  // ---- sending the queue ------------------------------------------------------------------------

  function csrfToken() {
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function loginAnswer(response) {
    if (response.type === "opaqueredirect" || response.status === 401) return true;
    if (response.status === 302 || response.redirected) return true;
    return false;
  }

  function replay() {
    if (replaying || !navigator.onLine) return Promise.resolve();
    replaying = true;
    var sent = 0;
    function next() {
      return allItems().then(function (items) {
        var item = items.filter(function (each) { return each.state === "waiting"; })[0];
        if (!item) return;
        return fetch(item.url, {
          method: "POST", credentials: "same-origin", redirect: "manual",
          headers: { "Idempotency-Key": item.key, "X-CSRFToken": csrfToken(), "HX-Request": "true",
                     "Content-Type": "application/x-www-form-urlencoded" },
          body: item.body
        }).then(function (response) {
          if (loginAnswer(response) || (response.status === 403 && !response.headers.get("HX-Retarget"))) {
            needsLogin = true;  // an ended session (or its CSRF token): log in, then go on
            return;
          }
          needsLogin = false;
          if (response.ok) { sent += 1; return removeItem(item.seq).then(next); }
          if (response.status >= 500) return;  // the server's trouble: try again later
          return response.text().then(function (answer) {
            item.state = response.status === 409 ? "conflict" : "refused";
            item.answer = answer;
            return putItem(item).then(next);
          });
        }, function () { /* still offline */ });
      });
    }
    return next().then(function () {
      replaying = false;
      return refreshCount();
    }, function () { replaying = false; }).then(function () {
      if (sent && articleId()) reloadWhenSettled();
    });
  }

  // Once this article's queue is sent, show what the server holds now.
  function reloadWhenSettled() {
    allItems().then(function (items) {
      var mine = items.filter(function (item) { return item.article === articleId() && item.state === "waiting"; });
      if (!mine.length) location.reload();
    });
  }

  // ---- what the analyst sees --------------------------------------------------------------------

  function say(message) {
    var box = document.getElementById("messages");
    if (!box) return;
    box.innerHTML = "<p class=\"message info\"></p>";
    box.firstChild.textContent = message;
  }

  function refreshCount() {
    return allItems().then(function (items) {
      waiting = items.filter(function (item) { return item.state === "waiting"; }).length;
      showStatus(items);
    });
  }

  function showStatus(items) {
    var status = document.getElementById("sync-status");
    if (!status) return;
    var text = "";
    if (!navigator.onLine) text = "offline, " + waiting + (waiting === 1 ? " change" : " changes") + " waiting";
    else if (needsLogin) text = "log in again to send " + waiting + (waiting === 1 ? " change" : " changes");
    else if (waiting) text = "sending " + waiting + (waiting === 1 ? " change" : " changes") + "…";
    var troubled = (items || []).filter(function (item) { return item.state !== "waiting"; }).length;
    if (troubled) text += (text ? "; " : "") + troubled + (troubled === 1 ? " change needs" : " changes need") + " you";
    status.textContent = text;
    status.hidden = !text;
    status.classList.toggle("is-offline", !navigator.onLine);
    var login = document.getElementById("sync-login");
    if (login) login.hidden = !needsLogin;
  }

  window.addEventListener("online", function () { showStatus(); replay(); });
  window.addEventListener("offline", function () { showStatus(); });

  // ---- the service worker: pages for later ------------------------------------------------------

  var keepTimer = null;

  function keep(urls) {
    if (!navigator.serviceWorker || !navigator.serviceWorker.controller || !navigator.onLine) return;
    navigator.serviceWorker.controller.postMessage({ type: "keep", urls: urls });
  }

  if ("serviceWorker" in navigator && body.dataset.serviceWorker && window.isSecureContext) {
    navigator.serviceWorker.register(body.dataset.serviceWorker, { scope: "/" }).then(function () {
      return navigator.serviceWorker.ready;
    }).then(function () {
      // The analyst's queue: every article listed for them is kept for offline work.
      var listed = Array.prototype.map.call(document.querySelectorAll("[data-offline-keep]"), function (link) {
        return link.href;
      });
      if (listed.length) keep(listed);
    }).catch(function () { /* no worker: the app still works online */ });
  }

  // After a decision online, the kept copy of this page is refreshed, so a reload offline shows
  // the article as it now stands (fragments are never kept).
  document.addEventListener("htmx:afterRequest", function (event) {
    var config = event.detail.requestConfig;
    if (!event.detail.successful || !config || config.verb === "get") return;
    clearTimeout(keepTimer);
    keepTimer = setTimeout(function () { keep([location.href]); }, 1500);
  });

  // Logging out forgets the kept pages (the next person at this browser is someone else).
  document.addEventListener("submit", function (event) {
    if (event.target.matches("form.logout") && navigator.serviceWorker && navigator.serviceWorker.controller) {
      navigator.serviceWorker.controller.postMessage({ type: "forget" });
    }
  });

  // ---- on load: the decisions still waiting for this article are shown, then sent ---------------

  if (!user) return;
  allItems().then(function (items) {
    var here = articleId();
    items.forEach(function (item) { if (item.state === "waiting" && item.article === here) apply(item); });
    waiting = items.filter(function (item) { return item.state === "waiting"; }).length;
    showStatus(items);
    replay();
  });
})();
