// Progressive enhancement only: every page works without this file.

// Sections shown only for one choice of a radio group: data-show-when="name=value".
function applyToggles(root) {
  root.querySelectorAll("[data-show-when]").forEach((el) => {
    const [name, value] = el.getAttribute("data-show-when").split("=");
    const form = el.closest("form") || document;
    const checked = form.querySelector(`input[name="${name}"]:checked`);
    const show = checked ? checked.value === value : true;
    el.hidden = !show;
    el.querySelectorAll("input, select, textarea").forEach((input) => {
      input.disabled = !show;
    });
  });
}

// Countdowns: <time class="countdown" data-seconds="N">; announced when they run out.
function startCountdowns(root) {
  root.querySelectorAll(".countdown[data-seconds]").forEach((el) => {
    if (el.dataset.started) return;
    el.dataset.started = "1";
    const end = Date.now() + parseInt(el.dataset.seconds, 10) * 1000;
    function tick() {
      const left = Math.max(0, Math.round((end - Date.now()) / 1000));
      const h = Math.floor(left / 3600);
      const m = Math.floor((left % 3600) / 60);
      const s = left % 60;
      const mm = (h > 0 && m < 10 ? "0" : "") + m;
      el.textContent = (h > 0 ? h + ":" : "") + mm + ":" + (s < 10 ? "0" : "") + s;
      el.setAttribute("datetime", "PT" + left + "S");
      if (left === 0) {
        if (el.dataset.expiredText) {
          const p = el.closest("p") || el;
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

export function init(root) {
  applyToggles(root);
  startCountdowns(root);
}

// A one-time secret on the page: warn before leaving without confirming it was saved.
function guardSecret() {
  let guarded = document.querySelector("[data-warn-on-leave]");
  if (!guarded) return;
  window.addEventListener("beforeunload", (ev) => {
    if (guarded) {
      ev.preventDefault();
      ev.returnValue = guarded.dataset.warnOnLeave;
    }
  });
  guarded.querySelectorAll("form").forEach((f) => {
    f.addEventListener("submit", () => {
      guarded = null;
    });
  });
}

document.addEventListener("change", (ev) => {
  if (ev.target.matches("[data-toggles]")) applyToggles(document);
});
document.addEventListener("submit", (ev) => {
  const msg = ev.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) ev.preventDefault();
});
document.addEventListener("htmx:afterSwap", (ev) => init(ev.target));
document.addEventListener("DOMContentLoaded", () => {
  init(document);
  guardSecret();
});
