// Working offline: the service worker keeps the pages (templates/sw.js); this keeps the
// decisions. A decision taken while the connection is down (or that failed on the way) is
// applied to the page at once and queued in IndexedDB with its idempotency key and the version
// it was based on. When the connection is back the queue is sent in order: a decision the
// server already applied is answered from its idempotency record; one whose version is stale is
// kept aside for the analyst to choose; an ended session keeps the queue and asks for a log-in.
// Nothing from a CDN, no build step.
(function () {
  "use strict";

  // A decision's idempotency key (annotate.js puts one on every decision; a decision applied
  // again after a conflict gets a new one).
  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }
  window.sourcemark = { newKey: newKey, drawOver: drawOver };

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
        // Writes are flushed to disk before they count as done: a queued decision survives a
        // crash of the browser, not only a reload.
        var transaction = db.transaction(STORE, mode, mode === "readwrite" ? { durability: "strict" } : {});
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

  // A confirm or a reject: the mark (or the claim) and its row take the status, and the row
  // says it waits. False for any other decision.
  function decided(element, row, action, said) {
    var status = { confirm: "confirmed", reject: "rejected" }[action];
    if (!status) return false;
    setStatus(element, status);
    setStatus(row, status);
    var word = row && row.querySelector(said);
    if (word) word.textContent = STATUS_WORDS[status] + " · waiting";
    return true;
  }

  // The server moves a mention's or claim's version by one per decision: the next decision
  // taken offline on it is based on that, as it would have been online.
  function bumpVersion(element) {
    if (!element) return;
    if (element.dataset.version) element.dataset.version = String(Number(element.dataset.version) + 1);
    element.querySelectorAll("input[name=version]").forEach(function (input) {
      input.value = String(Number(input.value) + 1);
    });
  }

  // What the page looked like before a queued decision was drawn (by its key), so an undo taken
  // offline puts it back and sends nothing.
  var before = {};

  function snapshot(item, ids) {
    before[item.key] = ids.map(function (id) {
      var element = document.getElementById(id);
      return element ? [id, element.outerHTML] : null;
    }).filter(Boolean);
  }

  function restore(item) {
    (before[item.key] || []).forEach(function (saved) {
      var element = document.getElementById(saved[0]);
      if (!element) return;
      var holder = document.createElement("template");
      holder.innerHTML = saved[1];
      var fresh = holder.content.firstElementChild;
      element.replaceWith(fresh);
      htmx.process(fresh);
    });
    var added = document.querySelector("[data-offline=\"" + item.key + "\"]");
    if (added) added.replaceWith(document.createTextNode(added.textContent));
    delete before[item.key];
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
    if (decision.action === "resize") {
      resizeMark(mark, params.get("move") || "");
      applyOther(decision);
      return;
    }
    if (decided(mark, row, decision.action, ".mention-status")) {
      // a confirm or a reject: drawn
    } else if (decision.action === "relabel" && mark) {
      var label = params.get("label") || "";
      mark.className = mark.className.replace(/\blabel-[\w-]+/, "label-" + label.toLowerCase());
      mark.dataset.label = label;
      mark.dataset.marker = markerOf(label);
      setStatus(mark, "confirmed");
      setStatus(row, "confirmed");
      var said = row && row.querySelector(".mention-status");
      if (said) said.textContent = label + " · waiting";
    } else if (decision.action === "delete") {
      if (mark) mark.classList.add("is-deleted");
      if (row) row.hidden = true;
    }
    bumpVersion(mark);
    bumpVersion(row);
    markPending(mark, decision.action);
    markPending(row, decision.action);
  }

  function applyClaim(decision) {
    var span = document.getElementById("claim-" + decision.id);
    var row = document.getElementById("claim-row-" + decision.id);
    decided(span, row, decision.action, ".claim-status");
    if (decision.action === "delete") {
      if (row) row.hidden = true;
      if (span) span.classList.add("is-deleted");
    }
    bumpVersion(span);
    bumpVersion(row);
    markPending(span, decision.action);
    markPending(row, decision.action);
  }

  // Resizing by one word, as the server does it (corpus/text.py `resized`): words are runs of
  // letters, digits and "_", or one other character that is not a space; a span never takes in
  // a line break. Drawn when the new span stays within the plain text on either side of the mark.
  var WORD = /[\p{L}\p{N}_]+|[^\p{L}\p{N}_\s]/gu;

  function wordBefore(text, position) {
    var from = Math.max(0, position - 200), match, last = null;
    WORD.lastIndex = 0;
    var window_ = text.slice(from, position);
    while ((match = WORD.exec(window_))) last = [from + match.index, from + match.index + match[0].length];
    return last;
  }

  function wordAfter(text, position) {
    WORD.lastIndex = position;
    var match = WORD.exec(text);
    return match ? [match.index, match.index + match[0].length] : null;
  }

  function resized(text, start, end, move) {
    var newStart = start, newEnd = end, word, first, second, last, previous;
    if (move === "grow-start") {
      word = wordBefore(text, start);
      newStart = word ? word[0] : start;
    } else if (move === "shrink-start") {
      first = wordAfter(text, start);
      second = first && first[1] < end ? wordAfter(text, first[1]) : null;
      newStart = second && second[1] <= end ? second[0] : start;
    } else if (move === "grow-end") {
      word = wordAfter(text, end);
      newEnd = word ? word[1] : end;
    } else if (move === "shrink-end") {
      last = wordBefore(text, end);
      previous = last ? wordBefore(text, last[0]) : null;
      newEnd = previous && previous[0] >= start ? previous[1] : end;
    }
    return text.slice(newStart, newEnd).indexOf("\n") >= 0 ? [start, end] : [newStart, newEnd];
  }

  function resizeMark(mark, move) {
    var text = document.getElementById("article-text");
    if (!mark || !text) return;
    var all = text.textContent, range = document.createRange();
    range.setStart(text, 0);
    range.setEndBefore(mark);
    var start = range.toString().length, end = start + mark.textContent.length;
    var span = resized(all, start, end, move);
    var before = mark.previousSibling, after = mark.nextSibling;
    var low = start - (before && before.nodeType === Node.TEXT_NODE ? before.nodeValue.length : 0);
    var high = end + (after && after.nodeType === Node.TEXT_NODE ? after.nodeValue.length : 0);
    if (span[0] < low || span[1] > high || (span[0] === start && span[1] === end)) return;
    if (before && before.nodeType === Node.TEXT_NODE) before.remove();
    if (after && after.nodeType === Node.TEXT_NODE) after.remove();
    if (span[0] > low) mark.before(document.createTextNode(all.slice(low, span[0])));
    if (high > span[1]) mark.after(document.createTextNode(all.slice(span[1], high)));
    (mark.querySelector("a") || mark).textContent = all.slice(span[0], span[1]);
  }

  // A new mention: drawn over its characters when they lie in one run of text.
  function applyAdd(params, key) {
    var mark = document.createElement("mark");
    var label = params.get("label") || "";
    mark.className = "mark label-" + label.toLowerCase() + " is-confirmed is-pending";
    mark.dataset.pending = "add";
    mark.dataset.label = label;
    mark.dataset.status = "confirmed";
    mark.dataset.marker = markerOf(label);
    mark.dataset.offline = key;
    drawOver(Number(params.get("start")), Number(params.get("end")), mark);
  }

  // Put `mark` around the article's characters start…end (offsets in its text) when they lie
  // in one run of plain text; says whether they did.
  function drawOver(start, end, mark) {
    var text = document.getElementById("article-text");
    if (!text || !(end > start)) return false;
    var walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT), node, total = 0;
    while ((node = walker.nextNode())) {
      var length = node.nodeValue.length;
      if (start >= total && end <= total + length && !node.parentElement.closest("mark")) {
        var range = document.createRange();
        range.setStart(node, start - total);
        range.setEnd(node, end - total);
        range.surroundContents(mark);
        return true;
      }
      total += length;
    }
    return false;
  }

  // A claim's speaker (the selected text, or the article's own voice), cue and grade.
  function applyClaimDetail(decision, params) {
    var row = document.getElementById("claim-row-" + decision.id);
    if (!row) return;
    if (decision.action === "speaker") {
      var speaker = row.querySelector(".claim-speaker"), text = document.getElementById("article-text");
      var start = Number(params.get("start")), end = Number(params.get("end"));
      var name = params.get("none") || !text || !(end > start) ? "" : text.textContent.slice(start, end);
      row.dataset.speaker = name;
      applyClaim({ id: decision.id, action: "confirm" });  // a speaker confirms the claim
      if (speaker) {
        speaker.replaceChildren(name || document.createElement("em"));
        if (!name) speaker.firstChild.textContent = "the article itself";
      }
      return;
    }
    if (decision.action === "cue") {
      row.dataset.cue = params.get("cue") || "";
      var cue = row.querySelector(".claim-cue");
      if (cue) cue.textContent = row.dataset.cue;
    } else if (decision.action === "grade") {
      row.dataset.credibility = params.get("credibility") || "";
    }
    applyOther(decision);
  }

  // A link from the claim shown in the links panel to a candidate: listed among its sources;
  // an unlink: struck out there.
  var RELATIONS = { corroborates: "Corroborates", contradicts: "Contradicts", same: "Same claim" };

  function applyLink(decision, params) {
    var panel = document.getElementById("claim-links");
    if (!panel || panel.dataset.claim !== decision.id) return;
    if (decision.action === "link") {
      var candidate = panel.querySelector(".candidate[data-other=\"" + params.get("other") + "\"]");
      var sources = panel.querySelector("ul.sources");
      if (!candidate || !sources) return;
      var entry = document.createElement("li"), relation = document.createElement("span");
      entry.className = "link link-" + params.get("relation") + " is-pending";
      relation.className = "relation";
      relation.textContent = RELATIONS[params.get("relation")] || params.get("relation");
      entry.append(relation, ": ", candidate.querySelector("a").cloneNode(true), " (waiting)");
      sources.append(entry);
      candidate.remove();
    } else {
      var unlink = panel.querySelector(".unlink[data-link=\"" + params.get("link") + "\"]");
      if (unlink) unlink.closest("li").classList.add("is-deleted", "is-pending");
    }
  }

  // A new claim: listed, waiting, with the text selected for it.
  function applyAddClaim(params) {
    var list = document.querySelector(".claim-list"), text = document.getElementById("article-text");
    var start = Number(params.get("start")), end = Number(params.get("end"));
    if (!list || !text || !(end > start)) return;
    var row = document.createElement("li"), said = document.createElement("span");
    row.className = "claim-row is-confirmed is-pending";
    said.className = "claim-text";
    said.textContent = text.textContent.slice(start, end);
    row.append(said, " · added, waiting");
    list.prepend(row);
  }

  // Every other decision (resizing, confirming all, ...) is marked on what it acts on and drawn
  // by the server once sent.
  function applyOther(decision) {
    var prefix = decision.kind === "claim" ? "claim" : "mention";
    markPending(document.getElementById(prefix + "-" + decision.id), decision.action);
    var row = document.getElementById(prefix + "-row-" + decision.id);
    markPending(row, decision.action);
    bumpVersion(document.getElementById(prefix + "-" + decision.id));
    bumpVersion(row);
  }

  // "Confirm all" of a label: every suggestion of it the page shows (the server confirms those
  // the analyst saw, at the versions seen).
  function applyConfirmAll(params) {
    var label = (params.get("label") || "").toLowerCase();
    document.querySelectorAll("#article-text mark.mark.label-" + label + ".is-suggested").forEach(function (mark) {
      var row = document.getElementById("mention-row-" + mark.dataset.mention);
      setStatus(mark, "confirmed");
      setStatus(row, "confirmed");
      bumpVersion(mark);
      bumpVersion(row);
      markPending(mark, "confirm-all");
      markPending(row, "confirm-all");
    });
  }

  // A label's marker letter, as the legend shows it.
  function markerOf(label) {
    var swatch = document.querySelector("#legend .swatch.label-" + label.toLowerCase());
    return swatch ? swatch.textContent : "";
  }

  // The legend's counts, from the marks as they now stand (standing mentions never overlap:
  // each has its mark).
  function recount() {
    var text = document.getElementById("article-text");
    if (!text) return;
    document.querySelectorAll("#legend li").forEach(function (line) {
      var swatch = line.querySelector(".swatch");
      var label = swatch && /\blabel-([\w-]+)/.exec(swatch.className);
      if (!label) return;
      var marks = text.querySelectorAll("mark.mark.label-" + label[1] + ":not(.is-deleted)");
      var count = function (status) {
        return Array.prototype.filter.call(marks, function (mark) { return mark.classList.contains("is-" + status); }).length;
      };
      var confirmed = line.querySelector(".count-confirmed"), suggested = line.querySelector(".count-suggested");
      if (confirmed) confirmed.textContent = String(count("confirmed"));
      if (suggested) suggested.textContent = String(count("suggested"));
    });
  }

  function apply(item) {
    applyOne(item);
    recount();
  }

  function applyOne(item) {
    var decision = describe(item.url);
    if (!decision) return;
    var params = new URLSearchParams(item.body);
    if (decision.kind !== "article") {
      var prefix = decision.kind === "claim" ? "claim" : "mention";
      var element = document.getElementById(prefix + "-" + decision.id);
      // A resize moves text between the mark and its neighbours: what holds them is kept.
      var holder = decision.action === "resize" && element && element.parentElement.id;
      snapshot(item, [holder || prefix + "-" + decision.id, prefix + "-row-" + decision.id, "claim-links"]);
    }
    if (decision.kind === "mention") applyMention(decision, params);
    else if (decision.kind === "mention-link") applyOther({ kind: "mention", id: decision.id, action: "link" });
    else if (decision.kind === "claim" && /^(confirm|reject|delete)$/.test(decision.action)) applyClaim(decision);
    else if (decision.kind === "claim" && /^(speaker|cue|grade)$/.test(decision.action)) {
      applyClaimDetail(decision, params);
    } else if (decision.kind === "claim" && /^(link|unlink)$/.test(decision.action)) {
      applyLink(decision, params);
      applyOther(decision);
    } else if (decision.action === "claims/add") applyAddClaim(params);
    else if (decision.action === "mentions/add") applyAdd(params, item.key);
    else if (decision.action === "confirm-all") applyConfirmAll(params);
    else if (decision.action === "submit") markPending(document.getElementById("article-status"), "submit");
    else if (decision.kind !== "article") applyOther(decision);
  }

  // ---- taking decisions while offline ----------------------------------------------------------

  var waiting = 0;  // decisions in the queue for this user (any article)
  // Until the page has read the queue, a decision may be behind others still waiting: it waits
  // for the read (a moment), then goes straight to the server or behind them.
  var queueRead = !user, onceQueueRead = [];

  function markQueueRead() {
    queueRead = true;
    onceQueueRead.splice(0).forEach(function (issue) { issue(); });
  }

  document.addEventListener("htmx:confirm", function (event) {
    var detail = event.detail;
    if (queueRead || detail.verb === "get" || !describe(detail.path)) return;
    event.preventDefault();
    onceQueueRead.push(function () { detail.issueRequest(false); });  // asked again, then sent
  });

  var writing = 0, written = Promise.resolve();  // decisions on their way into the queue

  function queue(config) {
    var decision = describe(config.path);
    var params = new URLSearchParams(config.formData);
    // The form's CSRF token is the page's, which a new log-in replaces: the token goes as a
    // header read at send time instead (Django would check the form's first).
    params.delete("csrfmiddlewaretoken");
    var item = {
      user: user, url: config.path, key: config.headers["Idempotency-Key"],
      body: params.toString(),
      article: decision && decision.kind === "article" ? decision.id : articleId(),
      page: location.pathname, what: whatOf(config), state: "waiting", queued: new Date().toISOString()
    };
    writing += 1;
    apply(item);
    // The count in the top bar, and the message, come once the decision is stored for good.
    return written = putItem(item).then(function () {
      writing -= 1;
      say("Kept in this browser: " + item.what + ". It is sent when the connection is back.");
      return refreshCount();
    }).then(function () {
      if (navigator.onLine) replay();  // behind others still waiting: sent after them
    });
  }

  // While decisions wait and the browser believes it is online (a server restarting, a proxy
  // dropping a request), the queue is tried again every few seconds.
  var RETRY_SECONDS = 5;
  setInterval(function () {
    if (waiting && navigator.onLine && !needsLogin) replay();
  }, RETRY_SECONDS * 1000);

  function whatOf(config) {
    var decision = describe(config.path);
    if (!decision) return "a change";
    var element = config.elt && config.elt.closest ? config.elt.closest("[data-mention], [data-claim]") : null;
    var named = element && (element.querySelector(".mention-text, .claim-text") || element);
    var subject = named ? "“" + named.textContent.replace(/\s+/g, " ").trim().slice(0, 60) + "”" : "";
    return decision.action.replace("mentions/add", "add a mention").replace("claims/add", "add a claim") +
      (subject ? " " + subject : "");
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var config = event.detail.requestConfig;
    var decision = config && config.verb !== "get" && describe(config.path);
    if (!decision) return;
    // Offline, or behind decisions still waiting: queue it, so the order holds.
    if (navigator.onLine && queueRead && waiting === 0 && writing === 0 && !needsLogin) return;
    event.preventDefault();
    if (decision.action === "undo") undoOffline(config, decision.id);
    else if (decision.action === "submit") submitOffline(config);
    else queue(config);
  });

  // Submitting with suggestions still undecided: online, the server asks first; offline, the
  // page asks, and the answer goes with the submission.
  function submitOffline(config) {
    var undecided = document.querySelectorAll("#article-text mark.mark.is-suggested").length;
    if (undecided && !config.formData.get("even_if_undecided")) {
      if (!window.confirm(undecided + (undecided === 1 ? " suggestion is" : " suggestions are") +
                          " still undecided. Submit for review anyway?")) return;
      config.formData.set("even_if_undecided", "1");
    }
    queue(config);
  }

  // Undo while decisions wait: the last one waiting for this article is taken back from the
  // queue and from the page, and nothing is sent; with none waiting, the undo itself waits.
  function undoOffline(config, article) {
    written.then(allItems).then(function (items) {
      var last = items.filter(function (item) {
        return item.state === "waiting" && item.article === article;
      }).pop();
      if (!last || replaying) { queue(config); return; }  // being sent: undone by the server after
      restore(last);
      recount();
      return removeItem(last.seq).then(function () {
        say("Taken back before it was sent: " + last.what + ".");
        return refreshCount();
      });
    });
  }

  // Sent but no answer (the connection dropped on the way): queue it with the same key; if it
  // did arrive, the server answers the replay from its record and changes nothing.
  document.addEventListener("htmx:sendError", function (event) {
    var config = event.detail.requestConfig;
    if (config && config.verb !== "get" && describe(config.path)) queue(config);
    else if (config && config.verb === "get") say("Not available offline: it is fetched when the connection is back.");
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
    var answered = 0;  // decisions the server answered (applied, or not: a conflict, a refusal)
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
          if (response.status >= 500) return;  // the server's trouble: try again later
          answered += 1;
          if (response.ok) return removeItem(item.seq).then(next);
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
      if (answered && articleId()) reloadWhenSettled();
    });
  }

  // Once this article's queue is answered, show what the server holds now (the decisions not
  // applied stay listed above it).
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
      showProblems(items);
    });
  }

  // Decisions the server did not apply: a stale version (someone changed it meanwhile), shown
  // beside what it is now, to apply again on top of that or to drop; or a refusal, to dismiss.
  function showProblems(items) {
    var panel = document.getElementById("sync-problems");
    if (!panel) return;
    var problems = items.filter(function (item) { return item.state !== "waiting"; });
    var list = panel.querySelector("ul");
    list.replaceChildren();
    problems.forEach(function (item) {
      var entry = document.createElement("li");
      entry.className = "sync-problem is-" + item.state;
      entry.dataset.seq = item.seq;
      var yours = document.createElement("p");
      yours.append(strong("Yours: "), item.what + (item.page ? " (" : ""));
      if (item.page) {
        var link = document.createElement("a");
        link.href = item.page;
        link.textContent = "its article";
        yours.append(link, ")");
      }
      var now = document.createElement("p");
      now.append(strong(item.state === "conflict" ? "Now: " : "Refused: "), answerMessage(item.answer));
      entry.append(yours, now);
      if (item.state === "conflict") {
        entry.append(button("Apply mine again", "mine"), " ", button("Keep theirs", "theirs"));
      } else {
        entry.append(button("Dismiss", "theirs"));
      }
      list.append(entry);
    });
    panel.hidden = !problems.length;
  }

  function strong(text) {
    var element = document.createElement("strong");
    element.textContent = text;
    return element;
  }

  function button(text, choice) {
    var element = document.createElement("button");
    element.type = "button";
    element.textContent = text;
    element.dataset.choice = choice;
    return element;
  }

  // What the server said: its message in an htmx answer, or its plain text.
  function answerMessage(answer) {
    var page = new DOMParser().parseFromString(answer || "", "text/html");
    var message = page.querySelector(".message");
    return (message ? message.textContent : page.body.textContent || "").trim() || "not applied";
  }

  // The version the server holds now, from the current state its answer carries.
  function currentVersion(item) {
    var decision = describe(item.url);
    var page = new DOMParser().parseFromString(item.answer || "", "text/html");
    var attribute = decision.kind === "claim" ? "data-claim" : "data-mention";
    var current = page.querySelector("[" + attribute + "=\"" + decision.id + "\"][data-version]");
    return current ? current.dataset.version : null;
  }

  document.addEventListener("click", function (event) {
    var choice = event.target.closest && event.target.closest(".sync-problem [data-choice]");
    if (!choice) return;
    var seq = Number(choice.closest(".sync-problem").dataset.seq);
    allItems().then(function (items) {
      var item = items.filter(function (each) { return each.seq === seq; })[0];
      if (!item) return;
      if (choice.dataset.choice === "theirs") return removeItem(seq).then(refreshCount);
      // Mine again: a new decision based on what stands now, sent after those still waiting.
      var version = currentVersion(item);
      var params = new URLSearchParams(item.body);
      if (version !== null) params.set("version", version);
      var again = Object.assign({}, item, { body: params.toString(), key: newKey(), state: "waiting",
                                            answer: "", queued: new Date().toISOString() });
      delete again.seq;
      return removeItem(seq).then(function () { return putItem(again); }).then(refreshCount).then(replay);
    });
  });

  var lastItems = [];  // as last read, for a status shown between two reads

  function showStatus(items) {
    var status = document.getElementById("sync-status");
    if (!status) return;
    items = lastItems = items || lastItems;
    var text = "";
    if (!navigator.onLine) text = "offline, " + waiting + (waiting === 1 ? " change" : " changes") + " waiting";
    else if (needsLogin) text = "log in again to send " + waiting + (waiting === 1 ? " change" : " changes");
    else if (waiting) text = "sending " + waiting + (waiting === 1 ? " change" : " changes") + "…";
    var troubled = items.filter(function (item) { return item.state !== "waiting"; }).length;
    if (troubled) text += (text ? "; " : "") + troubled + (troubled === 1 ? " change needs" : " changes need") + " you";
    status.textContent = text;
    status.hidden = !text;
    status.classList.toggle("is-offline", !navigator.onLine || needsLogin || troubled > 0);
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
    showProblems(items);
    markQueueRead();
    replay();
  }).catch(markQueueRead);  // no queue in this browser: decisions go straight to the server
})();
