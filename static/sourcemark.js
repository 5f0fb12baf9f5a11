// Small behaviour htmx does not cover. No build step, nothing from a CDN.
(function () {
  "use strict";
  // Following a link between a mark and its side-list row highlights the other end.
  function focusTarget() {
    document.querySelectorAll(".is-focused").forEach(function (el) { el.classList.remove("is-focused"); });
    var id = decodeURIComponent(location.hash.slice(1));
    var target = id && document.getElementById(id);
    if (!target) return;
    var mark = target.matches("mark") ? target : document.getElementById(id.replace("mention-row-", "mention-"));
    if (mark) mark.classList.add("is-focused");
    target.scrollIntoView({ block: "center", behavior: "smooth" });
  }
  window.addEventListener("hashchange", focusTarget);
  document.addEventListener("DOMContentLoaded", focusTarget);
})();
