// The consoles' only script. Every page works without it; it adds local times, the browser's
// time zone to forms that ask for it, and live log panes that follow a Server-Sent Events stream.
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

  function followLog(pane) {
    var state = document.getElementById(pane.dataset.followState || "");
    var field = pane.dataset.textField || "line";
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
    var source = new EventSource(pane.dataset.followLog);
    source.onmessage = function (event) {
      var data = JSON.parse(event.data);
      var item = document.createElement("li");
      item.textContent = data[field];
      if (data.stream) { item.className = data.stream; }
      pane.appendChild(item);
      if (following) { scrollToEnd(); }
    };
    source.addEventListener("end", function (event) {
      source.close();
      say("The log is complete.");
      pane.dispatchEvent(new CustomEvent("consolekit:log-end", { bubbles: true, detail: JSON.parse(event.data) }));
      var selector = pane.dataset.refreshOnEnd;
      if (selector) { refresh(selector); }
    });
    say("Following new lines.");
  }

  // Replace the parts of this page named by ``selector`` with the same parts of a fresh copy.
  function refresh(selector) {
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html");
        document.querySelectorAll(selector).forEach(function (element) {
          var replacement = element.id ? fresh.getElementById(element.id) : null;
          if (replacement) {
            element.innerHTML = replacement.innerHTML;
            showLocalTimes(element);
          }
        });
      });
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

  function confirmForms(root) {
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) { event.preventDefault(); }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    showLocalTimes(document);
    fillTimeZones(document);
    confirmForms(document);
    countDown(document);
    document.querySelectorAll("[data-follow-log]").forEach(followLog);
  });
})();
