// QR login in the browser (WEB-1, WEB-2): listen for the outcome with Server-Sent Events
// (polling the status as a fallback), show the number to pick once the app has the code (read or typed),
// and log in once the app has approved. The QR code itself is refreshed by htmx every second.
// The code to type appears only after "Type a code instead" (htmx) and lasts 30 seconds: when
// its countdown runs out the code is taken off the page (SEC-13).
const RANK = { pending: 0, scanned: 1, approved: 2, rejected: 3, expired: 3, completed: 3 };
const POLL_MS = 2000;
const REFUSED = {
  not_me: "The login was refused in the app.",
  number_mismatch: "The login was refused in the app: the wrong number was picked.",
  replaced: "A newer login request replaced this one."
};

// The texts come translated in the panel's data-text-* attributes (the page's language); the
// English ones here are for a panel without them.
function text(panel, name, fallback) {
  return panel.dataset[name] || fallback;
}

function start(panel) {
  if (panel.dataset.qrStarted) return;
  panel.dataset.qrStarted = "1";
  let current = "pending";
  let finished = false;
  let source = null;
  let timer = null;
  const message = panel.querySelector("[data-qr-message]");
  const numberLine = panel.querySelector("[data-qr-number]");
  const numberValue = panel.querySelector("[data-qr-number-value]");
  const frame = panel.querySelector("[data-qr-frame]");
  const restart = panel.querySelector("[data-qr-restart]");
  const typed = panel.querySelector("[data-qr-typed-code]");
  const stepUp = panel.dataset.purpose === "step_up";

  function say(text, urgent) {
    message.textContent = text;
    if (urgent) message.setAttribute("role", "alert");
  }

  function stopListening() {
    finished = true;
    if (source) source.close();
    if (timer) clearInterval(timer);
  }

  function hideTypedCode() {
    if (typed) typed.hidden = true;
  }

  function offerRestart() {
    if (frame) frame.hidden = true;
    hideTypedCode();
    const countdown = panel.querySelector("[data-qr-countdown]");
    if (countdown) countdown.hidden = true;
    numberLine.hidden = true;
    restart.hidden = false;
  }

  function show(state) {
    if (finished || !state || !(state.status in RANK)) return;
    if (RANK[state.status] < RANK[current]) return;
    current = state.status;
    if (state.number !== null && state.number !== undefined) {
      numberValue.textContent = String(state.number);
      numberLine.hidden = false;
    }
    if (state.status === "scanned") {
      if (frame) frame.hidden = true;
      hideTypedCode();
      say(text(panel, "textScanned", "The app has the code. Pick the number {number} " +
          "in the app and confirm with your PIN or biometrics.").replace("{number}", String(state.number)));
    } else if (state.status === "approved") {
      stopListening();
      say(stepUp ? text(panel, "textApproved", "Approved in the app.")
                 : text(panel, "textLoggingIn", "Approved in the app. Logging you in…"));
      panel.querySelector("[data-qr-complete]").submit();
    } else if (state.status === "rejected") {
      stopListening();
      const refused = {
        not_me: text(panel, "textRefused", REFUSED.not_me),
        number_mismatch: text(panel, "textWrongNumber", REFUSED.number_mismatch),
        replaced: text(panel, "textReplaced", REFUSED.replaced)
      };
      say(refused[state.reason] || refused.not_me, true);
      offerRestart();
    } else if (state.status === "expired") {
      stopListening();
      say(text(panel, "textExpired", "The code has expired."), true);
      offerRestart();
    } else if (state.status === "completed") {
      stopListening();
      say(text(panel, "textUsed", "This login has already been used."), true);
      offerRestart();
    }
  }

  function poll() {
    fetch(panel.dataset.status, { credentials: "same-origin", headers: { accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(show)
      .catch(function () { /* the next poll tries again */ });
  }

  function startPolling() {
    if (timer || finished) return;
    timer = setInterval(poll, POLL_MS);
    poll();
  }

  if (window.EventSource) {
    source = new EventSource(panel.dataset.events);
    source.addEventListener("state", function (ev) {
      try { show(JSON.parse(ev.data)); } catch (e) { /* a broken event is ignored */ }
    });
    // EventSource reconnects on its own after a dropped connection; only when it gives up
    // (an HTTP error) does the page fall back to polling.
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED) startPolling();
    };
  } else {
    startPolling();
  }
  panel.addEventListener("countdown-expired", function (ev) {
    const area = ev.target.closest && ev.target.closest("[data-qr-typed-code]");
    if (area) {
      // The server no longer takes this code: nothing left to type from the page.
      const line = area.querySelector("[data-qr-code-line]");
      if (line) line.remove();
      const note = area.querySelector("[data-qr-code-countdown]");
      if (note) {
        note.textContent = text(panel, "textTypedExpired",
          "The code has expired. Show a new code if you still need one.");
        note.setAttribute("role", "alert");
      }
      return;
    }
    // The server decides; ask it now rather than at its next re-check.
    poll();
  });
}

function init(root) {
  if (root.matches && root.matches("[data-qr-login]")) start(root);
  if (root.querySelectorAll) root.querySelectorAll("[data-qr-login]").forEach(start);
}

document.addEventListener("DOMContentLoaded", () => init(document));
document.addEventListener("htmx:load", (ev) => init(ev.detail.elt));
