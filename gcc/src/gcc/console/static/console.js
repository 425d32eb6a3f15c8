// The operator console's own script: sections marked data-poll are fetched again every two
// seconds and replaced, until the server sends one that is settled. Pages work without it.
(function () {
  "use strict";
  var INTERVAL = 2000;

  function poll(element) {
    var address = element.dataset.poll;
    window.setTimeout(function () {
      fetch(address, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html === null) { poll(element); return; }
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(element.id);
          if (!fresh) { return; }
          element.replaceWith(fresh);
          if (fresh.dataset.poll) { poll(fresh); }
        })
        .catch(function () { poll(element); });
    }, INTERVAL);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll][id]").forEach(poll);
  });
})();
