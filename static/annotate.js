// The annotation page's behaviour that htmx cannot do on its own: keyboard shortcuts, turning a
// text selection into character offsets, and an idempotency key on every decision.
// No build step, nothing from a CDN.
(function () {
  "use strict";

  // Every POST is one decision with a key of its own (offline.js makes them); a retry of the
  // same request keeps its key, so the server answers it from its record and changes nothing.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb === "get") return;
    if (!event.detail.headers["Idempotency-Key"]) event.detail.headers["Idempotency-Key"] = window.sourcemark.newKey();
  });

  var root, text;
  var focusedId = null, focusedIndex = 0;
  // Which layer the keys act on: "entities" (the marks) or "claims" (t switches).
  var layer = "entities";
  var focusedClaim = null, claimIndex = 0, candidateIndex = 0, lastSelection = null;
  var reloads = 0;  // of the links panel for the focused claim (see showClaimActions)

  function marks() { return Array.prototype.slice.call(text.querySelectorAll("mark.mark")); }

  // The focused mention is drawn by a style sheet keyed on its id, not by a class on the mark:
  // fragments replace marks and rows at any moment, and the highlight must survive that.
  var focusSheet = new CSSStyleSheet(), claimSheet = new CSSStyleSheet();
  document.adoptedStyleSheets = document.adoptedStyleSheets.concat([focusSheet, claimSheet]);

  function setLayer(name) {
    layer = name;
    root.dataset.layer = name;
    document.querySelectorAll(".layer-tabs [role=tab]").forEach(function (tab) {
      tab.setAttribute("aria-selected", String(tab.dataset.layer === name));
    });
  }

  function focusMention(id, scroll) {
    var mark = id && document.getElementById("mention-" + id);
    focusedId = mark ? id : null;
    if (mark) { setLayer("entities"); focusClaim(null); }
    root.dataset.focused = focusedId || "";
    focusSheet.replaceSync(focusedId ?
      "#mention-" + id + " { outline: 3px solid #1f2a37; outline-offset: 1px; }\n" +
      "#mention-row-" + id + " { background: #fff8db; outline: 2px solid #ffbf47; outline-offset: -2px; }" : "");
    showActions(mark);
    if (!mark) return;
    focusedIndex = Math.max(0, marks().indexOf(mark));
    var row = document.getElementById("mention-row-" + id);
    if (scroll !== false) {
      mark.scrollIntoView({ block: "center" });
      if (row) row.scrollIntoView({ block: "nearest" });
    }
  }

  // The actions panel follows the focused mention: what it is, and the actions that apply.
  function showActions(mark) {
    var panel = document.getElementById("mention-actions");
    if (!panel) return;
    panel.hidden = !mark;
    if (!mark) return;
    var row = document.getElementById("mention-row-" + mark.dataset.mention);
    var link = row && row.querySelector(".entity-link");
    setText(panel.querySelector(".selected-text"), "“" + mark.textContent + "”");
    setText(panel.querySelector(".selected-what"), mark.title);
    var state = { analyst: mark.dataset.origin === "analyst", pending: !!(link && link.dataset.pending),
                  linked: !!(link && link.dataset.entity) };
    panel.querySelectorAll("[data-only]").forEach(function (button) {
      button.hidden = !state[button.dataset.only];
    });
    panel.querySelector(".entity-actions").hidden = mark.dataset.status !== "confirmed" || mark.dataset.label === "FIGURE";
  }

  function setText(element, value) {
    // Only when it changes: the mutation observer below would otherwise be woken for ever.
    if (element.textContent !== value) element.textContent = value;
  }

  function move(step) {
    var all = marks();
    if (!all.length) return;
    var index = all.findIndex(function (m) { return m.dataset.mention === focusedId; });
    index = index < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, index + step));
    focusMention(all[index].dataset.mention);
  }

  function post(url, values, source) {
    htmx.ajax("POST", url, { source: source || text, values: values, target: "#messages", swap: "outerHTML" });
  }

  function mentionUrl(id, action) {
    return root.dataset.mentionUrl.replace("/0/confirm/", "/" + id + "/" + action + "/");
  }

  function act(action, extra) {
    var mark = focusedId && document.getElementById("mention-" + focusedId);
    if (!mark) return;
    var values = Object.assign({ version: mark.dataset.version }, extra || {});
    post(mentionUrl(focusedId, action), values, mark);
  }

  // Claims: the second layer over the text, and the panel of the selected one.
  function claimRows() { return Array.prototype.slice.call(document.querySelectorAll(".claim-row")); }

  function focusClaim(id, scroll) {
    var row = id && document.getElementById("claim-row-" + id);
    var changed = focusedClaim !== (row ? id : null);
    focusedClaim = row ? id : null;
    root.dataset.focusedClaim = focusedClaim || "";
    claimSheet.replaceSync(focusedClaim ?
      "#claim-" + id + " { outline: 2px dashed #1f2a37; outline-offset: 2px; background: #eef3f8; }\n" +
      "#claim-row-" + id + " { background: #fff8db; outline: 2px solid #ffbf47; outline-offset: -2px; }" : "");
    if (row) {
      setLayer("claims");
      if (focusedId) focusMention(null);
      claimIndex = Math.max(0, claimRows().indexOf(row));
      if (scroll !== false) {
        var span = document.getElementById("claim-" + id);
        if (span) span.scrollIntoView({ block: "center" });
        row.scrollIntoView({ block: "nearest" });
      }
    }
    showClaimActions(row, changed);
  }

  function showClaimActions(row, reload) {
    var panel = document.getElementById("claim-actions");
    if (!panel) return;
    panel.hidden = !row;
    if (!row) return;
    setText(panel.querySelector(".selected-text"), "“" + row.querySelector(".claim-text").textContent + "”");
    setText(panel.querySelector(".selected-what"), row.querySelector(".claim-meta").textContent.replace(/\s+/g, " ").trim());
    panel.querySelectorAll("[data-only]").forEach(function (button) {
      button.hidden = row.dataset.origin !== "analyst";
    });
    if (reload || panel.dataset.version !== row.dataset.version) {
      if (panel.elements.cue) panel.elements.cue.value = row.dataset.cue;
      if (panel.elements.credibility) panel.elements.credibility.value = row.dataset.credibility;
      panel.dataset.version = row.dataset.version;
    }
    if (reload) { candidateIndex = 0; reloads = 0; }
    var links = document.getElementById("claim-links");
    if (links && links.dataset.claim !== row.dataset.claim && panel.dataset.loading !== row.dataset.claim) {
      panel.dataset.loading = row.dataset.claim;
      var failed = function () { delete panel.dataset.loading; };  // offline, say
      var loaded = function () {
        failed();
        // Moved on to another claim while this one loaded, and its answer came after the
        // other's: once htmx is done with this one, load the claim now focused again.
        setTimeout(function () {
          var now = focusedClaim && document.getElementById("claim-row-" + focusedClaim);
          var shown = document.getElementById("claim-links");
          if (now && shown && shown.dataset.claim !== focusedClaim && panel.dataset.loading === undefined &&
              reloads++ < 3) showClaimActions(now, false);
        }, 0);
      };
      htmx.ajax("GET", claimUrl(row.dataset.claim, "links"), { target: "#claim-links", swap: "none" })
        .then(loaded, failed);
    }
    showCandidate();
  }

  function showCandidate() {
    var items = document.querySelectorAll("#claim-links .candidate");
    items.forEach(function (item, index) { item.classList.toggle("is-picked", index === candidateIndex); });
  }

  function moveClaim(step) {
    var all = claimRows();
    if (!all.length) return;
    var index = all.findIndex(function (r) { return r.dataset.claim === focusedClaim; });
    index = index < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, index + step));
    focusClaim(all[index].dataset.claim);
  }

  function claimUrl(id, action) {
    return document.getElementById("claim-actions").dataset.claimsUrl.replace("/0/confirm/", "/" + id + "/" + action + "/");
  }

  function claimAct(action, extra) {
    var row = focusedClaim && document.getElementById("claim-row-" + focusedClaim);
    if (!row) return;
    var values = Object.assign({ version: row.dataset.version }, extra || {});
    post(claimUrl(focusedClaim, action), values, row);
  }

  function claimWithSelection(action) {
    var offsets = selectionOffsets() || lastSelection;
    if (!offsets) { flash("Select the text in the article first."); return; }
    claimAct(action, { start: offsets.start, end: offsets.end });
    window.getSelection().removeAllRanges();
    lastSelection = null;
    hideAddForm();
  }

  function linkCandidate(relation, index) {
    var items = document.querySelectorAll("#claim-links .candidate");
    var item = items[index === undefined ? candidateIndex : index];
    if (!item) { flash("No candidate claim to link."); return; }
    claimAct("link", { other: item.dataset.other, relation: relation });
  }

  function flash(message) {
    var box = document.getElementById("messages");
    if (box) box.innerHTML = "<p class=\"message warning\"></p>", box.firstChild.textContent = message;
  }

  function claimKey(event) {
    switch (event.key) {
      case "j": case "ArrowDown": moveClaim(1); return true;
      case "k": case "ArrowUp": moveClaim(-1); return true;
      case "Enter": case "c": claimAct("confirm"); return true;
      case "x": claimAct("reject"); return true;
      case "d": claimAct("delete"); return true;
      case "[": claimAct("resize", { move: "grow-start" }); return true;
      case "]": claimAct("resize", { move: "grow-end" }); return true;
      case "{": claimAct("resize", { move: "shrink-start" }); return true;
      case "}": claimAct("resize", { move: "shrink-end" }); return true;
      case "s": claimWithSelection("speaker"); return true;
      case "o": claimAct("speaker", { none: "1" }); return true;
      case "+": linkCandidate("corroborates"); return true;
      case "-": linkCandidate("contradicts"); return true;
      case "=": linkCandidate("same"); return true;
    }
    if (/^[1-9]$/.test(event.key)) {
      var count = document.querySelectorAll("#claim-links .candidate").length;
      if (Number(event.key) <= count) { candidateIndex = Number(event.key) - 1; showCandidate(); }
      return true;
    }
    return false;
  }

  function labelForKey(key) {
    var found = null;
    root.dataset.labels.split(" ").forEach(function (pair) {
      var parts = pair.split("=");
      if (parts[0] === key) found = parts[1];
    });
    return found;
  }

  // Character offsets of a DOM position inside the article text: the text nodes of
  // #article-text, in order, are exactly the article's text (markers are CSS, not text).
  function offsetOf(node, offset) {
    var walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT);
    var total = 0, current;
    if (node.nodeType !== Node.TEXT_NODE) {
      var range = document.createRange();
      range.setStart(text, 0);
      range.setEnd(node, offset);
      return range.toString().length;
    }
    while ((current = walker.nextNode())) {
      if (current === node) return total + offset;
      total += current.nodeValue.length;
    }
    return -1;
  }

  function pointAt(position) {
    var walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT);
    var total = 0, current;
    while ((current = walker.nextNode())) {
      if (position <= total + current.nodeValue.length) return { node: current, offset: position - total };
      total += current.nodeValue.length;
    }
    return null;
  }

  function selectionOffsets() {
    var selection = window.getSelection();
    if (!selection.rangeCount || selection.isCollapsed) return null;
    var range = selection.getRangeAt(0);
    if (!text.contains(range.startContainer) || !text.contains(range.endContainer)) return null;
    var start = offsetOf(range.startContainer, range.startOffset);
    var end = offsetOf(range.endContainer, range.endOffset);
    return start >= 0 && end > start ? { start: start, end: end } : null;
  }

  function showAddForm(offsets) {
    var form = document.getElementById("add-mention");
    if (!form) return;
    form.elements.start.value = offsets.start;
    form.elements.end.value = offsets.end;
    var rect = window.getSelection().getRangeAt(0).getBoundingClientRect();
    form.hidden = false;
    form.style.top = (window.scrollY + rect.bottom + 6) + "px";
    form.style.left = (window.scrollX + rect.left) + "px";
  }

  function hideAddForm() {
    var form = document.getElementById("add-mention");
    if (form) form.hidden = true;
  }

  // Keyboard selection ("a"): a caret that moves word by word and extends.
  var caret = null;
  var WORD = /[\w\u00C0-\u024F]+|[^\s\w]/g;

  function wordsOf() {
    var all = text.textContent, words = [], match;
    WORD.lastIndex = 0;
    while ((match = WORD.exec(all))) words.push([match.index, match.index + match[0].length]);
    return words;
  }

  function startCaret() {
    var words = wordsOf();
    if (!words.length) return;
    var from = 0;
    var mark = focusedId && document.getElementById("mention-" + focusedId);
    if (mark) {
      var before = document.createRange();
      before.setStart(text, 0);
      before.setEndAfter(mark);
      var end = before.toString().length;
      from = Math.max(0, words.findIndex(function (w) { return w[0] >= end; }));
    }
    caret = { words: words, anchor: from, head: from };
    showCaret();
  }

  function showCaret() {
    var first = caret.words[Math.min(caret.anchor, caret.head)];
    var last = caret.words[Math.max(caret.anchor, caret.head)];
    var from = pointAt(first[0]), to = pointAt(last[1]);
    var range = document.createRange();
    range.setStart(from.node, from.offset);
    range.setEnd(to.node, to.offset);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    (range.startContainer.parentElement || text).scrollIntoView({ block: "center" });
    showAddForm({ start: first[0], end: last[1] });
  }

  function caretKey(event) {
    if (event.key === "Escape") { caret = null; window.getSelection().removeAllRanges(); hideAddForm(); return true; }
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      var step = event.key === "ArrowRight" ? 1 : -1;
      var next = Math.min(caret.words.length - 1, Math.max(0, caret.head + step));
      caret.head = next;
      if (!event.shiftKey) caret.anchor = next;
      showCaret();
      return true;
    }
    var form = document.getElementById("add-mention");
    if (event.key === "q" && form) {
      post(form.querySelector(".add-claim").getAttribute("hx-post"), { start: form.elements.start.value, end: form.elements.end.value }, form);
      caret = null;
      window.getSelection().removeAllRanges();
      hideAddForm();
      return true;
    }
    var label = labelForKey(event.key);
    if (label) {
      post(form.getAttribute("hx-post"), { start: form.elements.start.value, end: form.elements.end.value, label: label }, form);
      caret = null;
      window.getSelection().removeAllRanges();
      hideAddForm();
      return true;
    }
    return false;
  }

  function toggleLayer() {
    if (layer === "entities") {
      var rows = claimRows();
      setLayer("claims");
      if (rows.length) focusClaim((rows[Math.min(claimIndex, rows.length - 1)]).dataset.claim);
    } else {
      focusClaim(null);
      setLayer("entities");
      var all = marks();
      if (all.length) focusMention(all[Math.min(focusedIndex, all.length - 1)].dataset.mention);
    }
  }

  function toggleHelp(show) {
    var help = document.getElementById("shortcuts");
    help.hidden = show === undefined ? !help.hidden : !show;
    if (!help.hidden) document.getElementById("shortcuts-close").focus();
  }

  function onKey(event) {
    var target = event.target;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (target.closest && target.closest("input, textarea, select, [contenteditable]")) return;
    var help = document.getElementById("shortcuts");
    if (!help.hidden) {
      if (event.key === "Escape" || event.key === "?") { toggleHelp(false); event.preventDefault(); }
      return;
    }
    if (caret) { if (caretKey(event)) event.preventDefault(); return; }
    // Enter on a focused button or link keeps its usual meaning.
    if (event.key === "Enter" && target.closest && target.closest("button, a, summary")) return;
    if (event.key === "t") { toggleLayer(); event.preventDefault(); return; }
    if (layer === "claims" && claimKey(event)) { event.preventDefault(); return; }
    var mark = focusedId && document.getElementById("mention-" + focusedId);
    var handled = true;
    switch (event.key) {
      case "j": case "ArrowDown": move(1); break;
      case "k": case "ArrowUp": move(-1); break;
      case "Enter": case "c": act("confirm"); break;
      case "x": case "Delete":
        act(mark && mark.dataset.origin === "analyst" && event.key === "Delete" ? "delete" : "reject"); break;
      case "d": if (mark && mark.dataset.origin === "analyst") act("delete"); break;
      case "l": act("link/accept"); break;
      case "[": act("resize", { move: "grow-start" }); break;
      case "]": act("resize", { move: "grow-end" }); break;
      case "{": act("resize", { move: "shrink-start" }); break;
      case "}": act("resize", { move: "shrink-end" }); break;
      case "u": if (root.dataset.undoUrl) post(root.dataset.undoUrl, {}); break;
      case "n": var next = document.getElementById("next-article"); if (next) location.href = next.href; break;
      case "a": startCaret(); break;
      case "?": toggleHelp(); break;
      case "Escape": hideAddForm(); break;
      default:
        var label = labelForKey(event.key);
        if (label && mark) act("relabel", { label: label }); else handled = false;
    }
    if (handled) event.preventDefault();
  }

  function init() {
    root = document.getElementById("annotation");
    text = document.getElementById("article-text");
    if (!root || !text) return;
    document.addEventListener("keydown", onKey);
    document.addEventListener("mouseup", function (event) {
      if (event.target.closest && event.target.closest("#add-mention")) return;
      if (event.target.closest && event.target.closest("#claim-actions")) return;
      var offsets = selectionOffsets();
      lastSelection = offsets;
      if (offsets) showAddForm(offsets); else if (!caret) hideAddForm();
    });
    // A click on a mark or a row focuses that mention.
    document.addEventListener("click", function (event) {
      var el = event.target.closest && event.target.closest("[data-mention]");
      var claim = !el && event.target.closest && event.target.closest(".claim[data-claim], .claim-row[data-claim]");
      var selecting = !window.getSelection().isCollapsed;
      if (el && !event.target.closest("button, summary")) focusMention(el.dataset.mention, false);
      else if (claim && !selecting && !event.target.closest("button, summary, a[href^='/']")) focusClaim(claim.dataset.claim, false);
      if (event.target.id === "help-button") toggleHelp(true);
      if (event.target.id === "shortcuts-close") toggleHelp(false);
    });
    document.getElementById("add-mention") && document.getElementById("add-mention").addEventListener("htmx:beforeRequest", hideAddForm);
    var panel = document.getElementById("mention-actions");
    if (panel) {
      panel.addEventListener("click", function (event) {
        var button = event.target.closest("button[data-action]");
        if (!button) return;
        var extra = {};
        if (button.dataset.label) extra.label = button.dataset.label;
        if (button.dataset.move) extra.move = button.dataset.move;
        if (button.dataset.action === "link/change") extra.name = panel.elements.name.value;
        act(button.dataset.action, extra);
        if (button.dataset.action === "link/change") panel.elements.name.value = "";
      });
      panel.addEventListener("submit", function (event) { event.preventDefault(); });
    }
    var claimPanel = document.getElementById("claim-actions");
    document.body.addEventListener("htmx:afterSettle", showCandidate);
    // A new mention in one run of plain text (annotation/views.py, add_mention): a mark is put
    // over its characters here, and the answer's own, swapped in out of band right after, takes
    // its place. Should the text not be as the server thought, the text is fetched again.
    document.body.addEventListener("sourcemark:mention-added", function (event) {
      var detail = event.detail, mark = document.createElement("mark");
      mark.id = "mention-" + detail.id;
      if (!window.sourcemark.drawOver(detail.start, detail.end, mark)) {
        htmx.ajax("GET", location.pathname, { select: "#article-text", target: "#article-text", swap: "outerHTML" });
      }
    });
    // A claim just marked is the one to work on: its speaker, cue and links come next.
    document.body.addEventListener("sourcemark:claim-added", function (event) {
      focusClaim(String(event.detail.id), false);
    });
    document.querySelectorAll(".layer-tabs [role=tab]").forEach(function (tab) {
      tab.addEventListener("click", function () { if (tab.dataset.layer !== layer) toggleLayer(); });
    });
    if (claimPanel) {
      claimPanel.addEventListener("click", function (event) {
        var button = event.target.closest("button[data-action]");
        if (!button) return;
        var action = button.dataset.action;
        if (button.dataset.selection) return claimWithSelection(action);
        var extra = {};
        if (button.dataset.move) extra.move = button.dataset.move;
        if (button.dataset.none) extra.none = "1";
        if (action === "cue") extra.cue = claimPanel.elements.cue.value;
        if (action === "grade") extra.credibility = claimPanel.elements.credibility.value;
        if (action === "unlink") extra.link = button.dataset.link;
        if (action === "link") {
          var item = button.closest(".candidate");
          extra.other = item.dataset.other;
          extra.relation = button.dataset.relation;
        }
        claimAct(action, extra);
      });
      claimPanel.addEventListener("submit", function (event) { event.preventDefault(); });
      // Keep the selection when a panel button is pressed: it may be the new speaker or span.
      claimPanel.addEventListener("mousedown", function (event) {
        if (event.target.closest("button")) event.preventDefault();
      });
    }
    // Following a link between a mark and its side-list row focuses that mention.
    function focusFromHash() {
      var match = /^#mention-(?:row-)?(\d+)$/.exec(location.hash);
      if (match) focusMention(match[1]);
      var claim = /^#claim-(?:row-)?(\d+)$/.exec(location.hash);
      if (claim) focusClaim(claim[1]);
    }
    window.addEventListener("hashchange", focusFromHash);
    focusFromHash();
    // When the focused mention is gone (deleted, undone), focus the one now at its place.
    new MutationObserver(function (records) {
      if (records.every(function (r) { return (panel && panel.contains(r.target)) ||
                                                (claimPanel && claimPanel.contains(r.target)); })) return;
      text = document.getElementById("article-text");
      if (focusedClaim) {
        var row = document.getElementById("claim-row-" + focusedClaim);
        if (row) showClaimActions(row, false);
        else { var rows = claimRows(); focusClaim(rows.length ? rows[Math.min(claimIndex, rows.length - 1)].dataset.claim : null, false); }
      }
      if (focusedId && document.getElementById("mention-" + focusedId)) {
        showActions(document.getElementById("mention-" + focusedId));
      } else if (focusedId) {
        var all = marks();
        focusMention(all.length ? all[Math.min(focusedIndex, all.length - 1)].dataset.mention : null, false);
      }
    }).observe(document.querySelector("main"), { childList: true, subtree: true });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
