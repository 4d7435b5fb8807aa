// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";

  // Sections shown only for one choice of a radio group: data-show-when="name=value".
  function applyToggles(root) {
    root.querySelectorAll("[data-show-when]").forEach(function (el) {
      var parts = el.getAttribute("data-show-when").split("=");
      var form = el.closest("form") || document;
      var checked = form.querySelector('input[name="' + parts[0] + '"]:checked');
      var show = checked ? checked.value === parts[1] : true;
      el.hidden = !show;
      el.querySelectorAll("input, select, textarea").forEach(function (input) {
        input.disabled = !show;
      });
    });
  }

  // Countdowns: <time class="countdown" data-seconds="N">; announced when they run out.
  function startCountdowns(root) {
    root.querySelectorAll(".countdown[data-seconds]").forEach(function (el) {
      if (el.dataset.started) return;
      el.dataset.started = "1";
      var end = Date.now() + parseInt(el.dataset.seconds, 10) * 1000;
      function tick() {
        var left = Math.max(0, Math.round((end - Date.now()) / 1000));
        var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
        var mm = (h > 0 && m < 10 ? "0" : "") + m;
        el.textContent = (h > 0 ? h + ":" : "") + mm + ":" + (s < 10 ? "0" : "") + s;
        el.setAttribute("datetime", "PT" + left + "S");
        if (left === 0) {
          if (el.dataset.expiredText) {
            var p = el.closest("p") || el;
            p.textContent = el.dataset.expiredText;
            p.setAttribute("role", "alert");
          }
          el.dispatchEvent(new CustomEvent("countdown-expired", { bubbles: true }));
          return;
        }
        setTimeout(tick, 1000);
      }
      tick();
    });
  }

  function init(root) {
    applyToggles(root);
    startCountdowns(root);
  }

  document.addEventListener("change", function (ev) {
    if (ev.target.matches("[data-toggles]")) applyToggles(document);
  });
  document.addEventListener("submit", function (ev) {
    var msg = ev.target.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) ev.preventDefault();
  });
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSwap", function (ev) { init(ev.target); });
  window.Portti = { init: init };
})();

// A one-time secret on the page: warn before leaving without confirming it was saved.
(function () {
  "use strict";
  var guarded = null;
  document.addEventListener("DOMContentLoaded", function () {
    guarded = document.querySelector("[data-warn-on-leave]");
    if (!guarded) return;
    window.addEventListener("beforeunload", function (ev) {
      if (guarded) { ev.preventDefault(); ev.returnValue = guarded.dataset.warnOnLeave; }
    });
    guarded.querySelectorAll("form").forEach(function (f) {
      f.addEventListener("submit", function () { guarded = null; });
    });
  });
})();
