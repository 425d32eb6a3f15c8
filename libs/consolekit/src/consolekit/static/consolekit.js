// The consoles' own script, beside htmx (which swaps parts of pages in place and feeds the
// live log pane from its Server-Sent Events stream). Every page works without either; this adds
// local times, the browser's time zone to forms that ask for it, confirmations, countdowns, and
// the log pane's following (auto-scroll that stops while the reader scrolls up).
(function () {
  "use strict";

  function showLocalTimes(root) {
    var format = new Intl.DateTimeFormat(undefined, {
      year: "numeric", month: "short", day: "numeric",
      hour: "2-digit", minute: "2-digit", timeZoneName: "short"
    });
    root.querySelectorAll("time[data-local-time]").forEach(function (element) {
      if (element.dataset.localShown) { return; }
      var moment = new Date(element.getAttribute("datetime"));
      if (isNaN(moment.getTime())) { return; }
      element.dataset.localShown = "1";
      element.title = element.textContent;
      element.textContent = format.format(moment) + " (" + element.textContent + ")";
    });
  }

  function fillTimeZones(root) {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    root.querySelectorAll("input[data-time-zone]").forEach(function (input) {
      input.value = zone;
    });
    root.querySelectorAll("[data-time-zone-name]").forEach(function (element) {
      element.textContent = zone;
    });
  }

  // A log pane fed by htmx's SSE extension (``sse-swap`` with ``hx-swap="beforeend"``): it
  // follows new lines while the reader is at the bottom, and pauses while they scroll up.
  function followLog(pane) {
    if (pane.dataset.following) { return; }
    pane.dataset.following = "1";
    var state = document.getElementById(pane.dataset.followState || "");
    var following = true;
    var scrolledByUs = false;
    function say(text) { if (state) { state.textContent = text; } }
    // Only the reader's own scrolling pauses or resumes following, not ours.
    pane.addEventListener("scroll", function () {
      if (scrolledByUs) { scrolledByUs = false; return; }
      following = pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 8;
      say(following ? "Following new lines." : "Paused: scroll to the bottom to follow again.");
    });
    function scrollToEnd() {
      var bottom = pane.scrollHeight - pane.clientHeight;
      if (pane.scrollTop < bottom) { scrolledByUs = true; pane.scrollTop = bottom; }
    }
    pane.addEventListener("htmx:sseMessage", function () { if (following) { scrollToEnd(); } });
    document.body.addEventListener("htmx:sseClose", function () { say("The log is complete."); });
    scrollToEnd();
    say("Following new lines.");
  }

  // Count down from the seconds the server measured when it drew the page (the browser's own
  // clock may differ from the server's).
  function countDown(root) {
    var elements = root.querySelectorAll("[data-countdown-seconds]");
    if (!elements.length) { return; }
    var loadedAt = Date.now();
    function draw() {
      var elapsed = (Date.now() - loadedAt) / 1000;
      elements.forEach(function (element) {
        var left = Math.max(0, Math.floor(Number(element.dataset.countdownSeconds) - elapsed));
        var hours = Math.floor(left / 3600), minutes = Math.floor((left % 3600) / 60);
        element.textContent = left <= 0 ? "no time" :
          hours > 0 ? hours + " h " + minutes + " min" : minutes + " min " + (left % 60) + " s";
      });
    }
    setInterval(draw, 1000);
  }

  // Forms that post without htmx ask here; htmx's own requests ask through ``hx-confirm``.
  function confirmForms(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      if (form.dataset.confirmBound) { return; }
      if (window.htmx && form.hasAttribute("hx-post")) { return; }  // htmx asks (hx-confirm)
      form.dataset.confirmBound = "1";
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
      });
    });
  }

  function enhance(root) {
    showLocalTimes(root);
    fillTimeZones(root);
    confirmForms(root);
    root.querySelectorAll("[data-follow-log]").forEach(followLog);
  }

  document.addEventListener("DOMContentLoaded", function () {
    enhance(document);
    countDown(document);
  });
  // Parts htmx swapped in get the same treatment as the page they joined.
  document.addEventListener("htmx:load", function (event) {
    if (event.target && event.target.querySelectorAll) { enhance(event.target); }
  });
})();
