// The Portti app: one page, one screen at a time, driven by the app API's `step`.
// Screens are built with DOM calls (never innerHTML from the network), every text comes from the
// catalogue in texts.js, and every screen's heading takes the focus so screen readers announce it.

import { ApiError, NetworkError, call, serverNow } from "./api.js";
import { b64url, makeDeviceKey, randomToken, sha256, sign } from "./crypto.js";
import { store } from "./store.js";
import { formatTime, loadLanguage, t } from "./texts.js";
import * as webauthn from "./webauthn.js";
import { QrScanner } from "./scanner.js";

const root = document.getElementById("app");
const state = {
  activationToken: null, // while an activation is in progress (kept in IndexedDB)
  activation: null, // what the sign-up code told: inviter, company, phone hint, resends left
  device: null, // {deviceId, alg, privateKey, person, webauthnCredential}
  session: null, // the app session token: memory only, so a closed app is a locked app
  person: null,
  scanner: null,
};

// -- building screens --------------------------------------------------------------------------

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "text") el.textContent = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

let fieldSerial = 0;

function field(label, attrs = {}) {
  const id = `f${++fieldSerial}`;
  const input = h("input", { id, name: attrs.name || id, ...attrs });
  return { input, node: h("div", { class: "field" }, h("label", { for: id, text: label }), input) };
}

// A field for a code the person was shown or sent: "449 192", "449-192" and pasted text are
// all fine (the server reads the digits too, UX-4).
function codeField(label, digits) {
  return field(label, {
    inputmode: "numeric",
    autocomplete: "one-time-code",
    autocapitalize: "off",
    spellcheck: "false",
    required: true,
    maxlength: String(digits * 2 + 8),
  });
}

function digitsOf(input) {
  return input.value.replace(/[\s\-\u2010-\u2015\u2212.]/g, "");
}

function alertBox() {
  return h("div", { class: "alert", role: "alert", "aria-live": "assertive", tabindex: "-1" });
}

function showError(box, error) {
  box.replaceChildren();
  if (!error) return;
  if (error instanceof ApiError) {
    box.append(h("p", { class: "detail", text: error.detail }));
    for (const e of error.errors || []) {
      if (e.message && e.message !== error.detail) box.append(h("p", { text: e.message }));
    }
    if (error.nextStep) box.append(h("p", { class: "next-step", text: error.nextStep }));
  } else if (error instanceof NetworkError) {
    box.append(h("p", { text: navigator.onLine ? t("error_network") : t("offline") }));
  } else {
    box.append(h("p", { text: typeof error === "string" ? error : String(error.message || error) }));
  }
}

// "Try again in 58 seconds": counts down each second with `buttons` disabled until it ends
// (UX-9). The seconds are a timer, announced only when the wait is over.
let countdownTimer = null;

function countdown(box, seconds, buttons) {
  if (countdownTimer) clearInterval(countdownTimer);
  const end = Date.now() + seconds * 1000;
  const timer = h("p", { role: "timer", "aria-live": "off", class: "countdown" });
  const done = h("p", { role: "status" });
  box.append(timer, done);
  const hold = (on) => {
    for (const b of buttons) {
      if (!b) continue;
      b.disabled = on;
      if (on) b.dataset.waiting = "true";
      else delete b.dataset.waiting;
    }
  };
  const tick = () => {
    const left = Math.ceil((end - Date.now()) / 1000);
    if (left > 0 && timer.isConnected) {
      timer.textContent = t("wait_seconds", { n: left });
      return;
    }
    clearInterval(countdownTimer);
    countdownTimer = null;
    hold(false);
    timer.remove();
    if (left <= 0) done.textContent = t("wait_over");
  };
  hold(true);
  tick();
  countdownTimer = setInterval(tick, 250);
}

function show(titleText, ...children) {
  stopScanner();
  const heading = h("h1", { tabindex: "-1", text: titleText });
  root.replaceChildren(h("section", { class: "screen" }, heading, ...children));
  document.title = `${titleText} – ${t("app_name")}`;
  heading.focus();
  return heading;
}

// A form whose submit runs `action`; its errors land in its own alert box. `before` goes between
// the fields and the button (a choice the button acts on), `extra` after it.
function form(fields, submitLabel, action, extra = [], before = []) {
  const box = alertBox();
  const button = h("button", { type: "submit", class: "primary", text: submitLabel });
  const el = h("form", { novalidate: true }, box, ...fields.map((f) => f.node), ...before, button, ...extra);
  const waitButtons = [button];
  el.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    el.setAttribute("aria-busy", "true");
    try {
      showError(box, null);
      await action();
    } catch (error) {
      if (error instanceof ApiError && handleGlobal(error)) return;
      showError(box, error);
      if (error instanceof ApiError && error.retryAfter) countdown(box, error.retryAfter, waitButtons);
      // What was typed stays (an e-mail address, a code), except what is secret: a refused
      // password or PIN is typed again from the start, as on any keypad (UX-19). The error
      // takes the focus, so that it is read out first.
      for (const f of fields) if (f.input.type === "password") f.input.value = "";
      if (box.isConnected && box.childElementCount) box.focus();
    } finally {
      if (!button.dataset.waiting) button.disabled = false;
      el.removeAttribute("aria-busy");
    }
  });
  return { el, box, button, waitButtons };
}

// The action is called without the click event: screens take optional messages, and an event
// object shown as a message was "[object PointerEvent]" (UX-2).
function button(label, onclick, cls = "secondary") {
  return h("button", { type: "button", class: cls, text: label, onclick: () => onclick() });
}

// Errors that change where the person is, whatever the screen.
function handleGlobal(error) {
  if (error.code === "app_locked") {
    state.session = null;
    screenUnlock();
    return true;
  }
  if (error.code === "device_unknown" || error.code === "pin_locked") {
    const method = state.device?.method;
    const locked = error.code === "pin_locked" ? state.device?.deviceId : null;
    (locked ? replaceDevice() : forgetDevice()).then(() => screenActivateAgain(error, method));
    return true;
  }
  if (error.code === "activation_unknown" || error.code === "invitation_expired") {
    forgetActivation().then(() => screenActivationEnded(error));
    return true;
  }
  return false;
}

// An ending shown as its own screen: what happened, and buttons that lead on (UX-10).
function screenProblem(title, error, actions) {
  const box = alertBox();
  show(title, box, h("div", { class: "actions" }, ...actions));
  showError(box, error);
}

function screenActivationEnded(error) {
  const reason = error?.problem?.reason;
  const replaced = reason === "superseded";
  // Only an expired invitation is titled so: a replaced or cancelled one has not expired, and the
  // screen says the activation ended, the detail why.
  const expired = !reason || reason === "expired";
  screenProblem(expired && error?.title ? error.title : t("activation_ended_title"), error, [
    replaced
      ? button(t("enter_new_code"), screenSignupCode, "primary")
      : button(t("start_again"), () => screenWelcome(), "primary"),
  ]);
}

// The app can no longer be used as it was (logged out elsewhere, locked for good): activate it
// again the way the person did before (UX-9, UX-12).
function screenActivateAgain(error, method) {
  const actions = method === "bank_id"
    ? [button(t("bank_id_title"), screenBankId, "primary")]
    : [button(t("log_in_with_account"), screenReactivate, "primary"), button(t("finnish_bank_id"), screenBankId)];
  actions.push(button(t("back_to_start"), () => screenWelcome(), "link"));
  screenProblem(error?.title || t("activate_again_title"), error, actions);
}

// -- storage -----------------------------------------------------------------------------------

async function saveActivation(token, info) {
  state.activationToken = token;
  state.activation = info;
  await store.set("activation", { token, info });
}

async function forgetActivation() {
  state.activationToken = null;
  state.activation = null;
  await store.remove("activation");
}

async function forgetDevice() {
  state.device = null;
  state.session = null;
  state.person = null;
  await store.remove("device");
}

// The app is activated again on this phone (its PIN forgotten or locked): the device it had
// is kept aside by its id only, and the new activation replaces it on the server, so that the
// old one can no longer approve anything.
async function replaceDevice() {
  if (state.device?.deviceId) await store.set("replaces", state.device.deviceId);
  await forgetDevice();
}

function activationCall(method, path, body) {
  return call(method, path, { body, token: state.activationToken });
}

function appCall(method, path, body) {
  return call(method, path, { body, token: state.session });
}

// -- the activation: one screen per step -------------------------------------------------------

function goStep(step) {
  const screens = {
    confirm_phone: screenPhoneCode,
    account: screenAccount,
    verify_email: screenVerifyEmail,
    password: screenPassword,
    totp: screenTotp,
    terms: screenTerms,
    device: screenCreatePin,
    done: screenDone,
  };
  (screens[step] || screenWelcome)();
}

function screenWelcome(message) {
  show(
    t("welcome_title"),
    message ? h("p", { role: "status", class: "status", text: message }) : null,
    h("p", { text: t("welcome_intro") }),
    alertBox(),
    h(
      "div",
      { class: "actions" },
      button(t("finnish_bank_id"), screenBankId, "primary"),
      button(t("no_bank_id"), screenNoBankId),
    ),
  );
}

// Each choice says whom it is for: the button's description is read out with it.
function choice(label, help, onclick, cls) {
  const id = `c${++fieldSerial}`;
  const b = button(label, onclick, cls);
  b.setAttribute("aria-describedby", id);
  return h("div", { class: "choice" }, b, h("p", { class: "muted", id, text: help }));
}

function screenNoBankId() {
  show(
    t("no_bank_id_title"),
    h(
      "div",
      { class: "actions" },
      choice(t("have_signup_code"), t("have_signup_code_help"), screenSignupCode, "primary"),
      choice(t("two_factor_done"), t("two_factor_done_help"), screenReactivate),
      button(t("back"), screenWelcome, "link"),
    ),
  );
}

function screenSignupCode() {
  const code = field(t("signup_label"), {
    inputmode: "numeric",
    autocomplete: "off",
    required: true,
    maxlength: "40",
  });
  const f = form([code], t("next"), async () => {
    const answer = await call("POST", "/activations", { body: { signup_code: digitsOf(code.input) } });
    await saveActivation(answer.activation_token, {
      inviter: answer.inviter_name,
      company: answer.company_name,
      phone: answer.phone_hint,
      resendsLeft: answer.resends_left,
      email: answer.email || null,
      method: "invitation",
    });
    screenPhoneCode();
  });
  show(t("signup_title"), h("p", { text: t("signup_intro") }), f.el, button(t("back"), screenNoBankId, "link"));
}

function screenPhoneCode() {
  const info = state.activation || {};
  const code = codeField(t("sms_code_label"), 6);
  const resendArea = h("div", { class: "resend", hidden: true });
  const resendStatus = h("p", { role: "status" });
  const resendButton = button(t("resend_code"), async () => {
    resendButton.disabled = true;
    try {
      const answer = await activationCall("POST", "/activations/current/confirmation-code/resend", {});
      info.resendsLeft = answer.resends_left;
      await saveActivation(state.activationToken, info);
      resendStatus.textContent = `${t("code_resent")} ${resendsText(info.resendsLeft)}`;
      resendButton.disabled = info.resendsLeft <= 0;
    } catch (error) {
      if (error instanceof ApiError && handleGlobal(error)) return;
      showError(f.box, error);
      resendButton.disabled = error instanceof ApiError && error.code === "sms_resend_limit";
    }
  });
  const resendsText = (n) =>
    n > 0
      ? t("resends_left", { n })
      : info.inviter
        ? t("no_resends_left_inviter", { inviter: info.inviter })
        : t("no_resends_left");
  resendArea.append(resendButton, resendStatus);
  const didnt = h("button", {
    type: "button",
    class: "link",
    "aria-expanded": "false",
    text: t("didnt_get_code"),
    onclick: () => {
      resendArea.hidden = false;
      didnt.setAttribute("aria-expanded", "true");
      resendButton.disabled = info.resendsLeft === 0;
      resendStatus.textContent = resendsText(info.resendsLeft ?? 2);
    },
  });
  const f = form([code], t("next"), async () => {
    // A notice of an earlier resend is stale once a code is tried: only what is true now stays.
    if (!resendArea.hidden) resendStatus.textContent = resendsText(info.resendsLeft ?? 2);
    try {
      const answer = await activationCall("POST", "/activations/current/confirmation-code", {
        code: digitsOf(code.input),
      });
      goStep(answer.step);
    } catch (error) {
      if (info.resendsLeft === 0) {
        // No new code can be asked for: the error says whom to ask; no dead button stays.
        resendArea.hidden = true;
        didnt.hidden = true;
      }
      throw error;
    }
  });
  show(
    t("phone_title"),
    info.inviter ? h("p", { class: "invited", text: t("invited_by", { inviter: info.inviter, company: info.company }) }) : null,
    h("p", { text: info.phone ? t("phone_intro", { phone: info.phone }) : t("phone_intro_plain") }),
    f.el,
    didnt,
    resendArea,
  );
}

function screenAccount() {
  const email = field(t("email_label"), { type: "email", autocomplete: "email", required: true });
  if (state.activation?.email) email.input.value = state.activation.email;
  const f = form([email], t("next"), async () => {
    const answer = await activationCall("POST", "/activations/current/account", { email: email.input.value.trim() });
    state.email = email.input.value.trim();
    goStep(answer.step);
  });
  show(
    t("account_title"),
    h("p", { text: t("account_intro") }),
    f.el,
    button(t("log_in_with_account"), () => screenExistingAccount(false)),
  );
}

function screenVerifyEmail() {
  const code = codeField(t("email_code_label"), 6);
  const f = form([code], t("next"), async () => {
    const answer = await activationCall("POST", "/activations/current/account/email-code", { code: digitsOf(code.input) });
    goStep(answer.step);
  });
  const again = button(t("send_new_email_code"), async () => {
    try {
      if (!state.email) throw new Error(t("email_label"));
      await activationCall("POST", "/activations/current/account", { email: state.email });
      showError(f.box, t("code_resent"));
    } catch (error) {
      showError(f.box, error);
    }
  }, "link");
  show(t("verify_email_title"), h("p", { text: t("verify_email_intro") }), f.el, state.email ? again : null);
}

function screenPassword() {
  const pw = field(t("password_label"), { type: "password", autocomplete: "new-password", required: true, minlength: "12" });
  const again = field(t("password_again_label"), { type: "password", autocomplete: "new-password", required: true });
  const f = form([pw, again], t("next"), async () => {
    if (pw.input.value !== again.input.value) throw new Error(t("passwords_differ"));
    const answer = await activationCall("POST", "/activations/current/account/password", { password: pw.input.value });
    goStep(answer.step);
  });
  show(t("password_title"), h("p", { text: t("password_intro") }), f.el);
}

async function screenTotp() {
  show(t("totp_title"), h("p", { role: "status", text: t("loading") }));
  let enrolment;
  try {
    enrolment = await activationCall("POST", "/activations/current/account/totp", {});
  } catch (error) {
    if (error instanceof ApiError && error.code === "totp_already_enrolled") {
      enrolment = null;
    } else if (error instanceof ApiError && handleGlobal(error)) {
      return;
    } else {
      screenProblem(t("totp_title"), error, [button(t("try_again"), screenTotp, "primary")]);
      return;
    }
  }
  const code = codeField(t("totp_code_label"), 6);
  const f = form([code], t("next"), async () => {
    const answer = await activationCall("POST", "/activations/current/account/totp/confirm", { code: digitsOf(code.input) });
    goStep(answer.step);
  });
  const parts = [h("p", { text: t("totp_intro") })];
  if (enrolment) {
    const svg = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(enrolment.qr_svg)}`;
    parts.push(
      h("img", { class: "qr", src: svg, alt: t("totp_qr_alt"), width: "220", height: "220" }),
      h("p", {}, h("a", { href: enrolment.otpauth_uri, text: t("totp_open_link") })),
      h("p", { id: "totp-secret-label", text: t("totp_secret_label") }),
      h(
        "p",
        { class: "secret", "aria-labelledby": "totp-secret-label", "data-testid": "totp-secret" },
        // Groups of four that never break inside: a line ends only between groups.
        (enrolment.secret.match(/.{1,4}/g) || []).flatMap((group, i) => [i ? " " : "", h("span", { text: group })]),
      ),
    );
  }
  show(t("totp_title"), ...parts, f.el);
}

function screenExistingAccount(reactivation) {
  const email = field(t("email_label"), { type: "email", autocomplete: "username", required: true });
  const pw = field(t("password_label"), { type: "password", autocomplete: "current-password", required: true });
  const code = codeField(t("totp_code_label"), 6);
  const f = form([email, pw, code], t("next"), async () => {
    const body = { email: email.input.value.trim(), password: pw.input.value, totp_code: digitsOf(code.input) };
    if (reactivation) {
      const answer = await call("POST", "/activations/account", { body });
      await saveActivation(answer.activation_token, { person: answer.person, method: "account" });
      goStep(answer.step);
    } else {
      const answer = await activationCall("POST", "/activations/current/existing-account", body);
      goStep(answer.step);
    }
  });
  show(
    reactivation ? t("reactivate_title") : t("existing_title"),
    h("p", { text: t("existing_intro") }),
    f.el,
    button(t("back"), reactivation ? screenNoBankId : screenAccount, "link"),
  );
  if (state.activation?.email && !reactivation) email.input.value = state.activation.email;
}

function screenReactivate() {
  screenExistingAccount(true);
}

// Terms are Markdown; shown as headings, paragraphs, lists and bold text through textContent,
// never as HTML (so no Markdown marker is left on the screen either).
function inlineMarkdown(text) {
  return text.split(/\*\*(.+?)\*\*/).map((part, i) => (i % 2 ? h("strong", { text: part }) : part));
}

function markdownBlocks(text) {
  const out = [];
  for (const block of text.split(/\n\s*\n/)) {
    const trimmed = block.trim();
    if (!trimmed) continue;
    const heading = /^(#{1,3})\s+(.*)$/.exec(trimmed);
    const items = (re) => trimmed.split(re).filter(Boolean).map((li) => h("li", {}, inlineMarkdown(li.replace(/\s*\n\s*/g, " ").trim())));
    if (heading) out.push(h(`h${heading[1].length + 1}`, {}, inlineMarkdown(heading[2])));
    else if (/^[-*] /.test(trimmed)) out.push(h("ul", {}, items(/(?:^|\n)[-*] /)));
    else if (/^\d+\. /.test(trimmed)) out.push(h("ol", {}, items(/(?:^|\n)\d+\. /)));
    else out.push(h("p", {}, inlineMarkdown(trimmed.replace(/\s*\n\s*/g, " "))));
  }
  return out;
}

async function screenTerms() {
  show(t("terms_title"), h("p", { role: "status", text: t("loading") }));
  let terms;
  try {
    terms = await call("GET", "/terms");
  } catch (error) {
    const box = alertBox();
    show(t("terms_title"), box, button(t("refresh"), screenTerms));
    showError(box, error);
    return;
  }
  const f = form([], t("accept_terms"), async () => {
    try {
      const answer = await activationCall("POST", "/activations/current/terms", { version: terms.version });
      goStep(answer.step);
    } catch (error) {
      if (error instanceof ApiError && error.code === "terms_outdated") {
        screenTerms();
        return;
      }
      throw error;
    }
  });
  show(
    t("terms_title"),
    h("p", { class: "muted", text: t("terms_version", { version: terms.version }) }),
    h("div", { class: "terms", tabindex: "0", role: "region", "aria-label": t("terms_title") }, markdownBlocks(terms.text)),
    f.el,
  );
}

function pinField(label) {
  return field(label, {
    type: "password",
    inputmode: "numeric",
    autocomplete: "off",
    pattern: "[0-9]*",
    maxlength: "6",
    required: true,
  });
}

function platformName() {
  const ua = navigator.userAgent;
  const known = [["Android", /Android/], ["iOS", /iPhone|iPad/], ["Windows", /Windows/], ["macOS", /Mac OS/], ["Linux", /Linux/]];
  const found = known.find(([, re]) => re.test(ua));
  return `${found ? found[0] : "Web"} (web app)`;
}

// The server's rule (portti.devices.pins.is_pin_too_simple), checked here too so that a PIN
// the server would refuse is refused before it is typed a second time: all one digit, a run
// up or down (9→0 wraps), or a pattern of 2 or 3 digits repeated.
function pinTooSimple(pin) {
  const digits = [...pin].map(Number);
  const steps = new Set(digits.slice(1).map((d, i) => (d - digits[i] + 10) % 10));
  if (steps.size === 1 && [0, 1, 9].includes([...steps][0])) return true;
  return [2, 3].some((period) => pin.length % period === 0 && pin === pin.slice(0, period).repeat(pin.length / period));
}

async function screenCreatePin(message) {
  const pin = pinField(t("pin_label"));
  const f = form([pin], t("next"), async () => {
    if (!/^\d{6}$/.test(pin.input.value)) throw new Error(t("pin_intro"));
    if (pinTooSimple(pin.input.value)) {
      pin.input.value = "";
      throw new Error(t("pin_too_simple"));
    }
    screenConfirmPin(pin.input.value);
  });
  show(t("pin_title"), h("p", { text: t("pin_intro") }), f.el);
  if (message) showError(f.box, message);
}

async function screenConfirmPin(firstPin) {
  const pin = pinField(t("confirm_pin_label"));
  const why = await webauthn.unavailableReason();
  const bioAvailable = why === null;
  const bio = h("input", {
    type: "checkbox",
    id: "use-bio",
    checked: bioAvailable,
    disabled: !bioAvailable,
    "aria-describedby": bioAvailable ? null : "use-bio-why",
  });
  const bioField = h(
    "div",
    { class: "check" },
    bio,
    h("label", { for: "use-bio", text: t("use_biometrics") }),
    bioAvailable
      ? null
      : h("p", { class: "muted", id: "use-bio-why", text: t(`biometrics_${why}`, { host: location.hostname }) }),
  );
  const f = form([pin], t("next"), async () => {
    if (pin.input.value !== firstPin) {
      screenCreatePin(t("pins_differ"));
      return;
    }
    const key = await makeDeviceKey();
    const body = {
      // The system's name only: pages show it in every language, with added and last used.
      name: platformName().split(" ")[0],
      platform: platformName(),
      key_alg: key.alg,
      public_key: key.publicKey,
      pin: firstPin,
    };
    const replaces = await store.get("replaces");
    if (replaces) body.replaces_device = replaces;
    let credential = null;
    if (bio.checked) {
      credential = await webauthn.register(state.activation?.person?.given_name || "Portti");
      body.biometric_key_alg = "webauthn";
      body.biometric_public_key = credential.publicKey;
    }
    let answer;
    try {
      answer = await activationCall("POST", "/activations/current/device", body);
    } catch (error) {
      if (error instanceof ApiError && error.code === "pin_too_simple") {
        // The rule is the server's: back to choosing the PIN, with its reason (not a dead end
        // on the confirming screen, where a new PIN could never match).
        screenCreatePin(error.errors[0]?.message || error.detail);
        return;
      }
      throw error;
    }
    state.device = {
      deviceId: answer.device_id,
      alg: key.alg,
      privateKey: key.privateKey,
      person: answer.person,
      webauthnCredential: credential ? credential.id : null,
      method: state.activation?.method || "invitation",
    };
    await store.set("device", state.device);
    await store.remove("replaces");
    await forgetActivation();
    screenDone();
  }, [], [bioField]);
  show(t("confirm_pin_title"), f.el, button(t("back"), () => screenCreatePin(), "link"));
}

function screenDone() {
  show(t("done_title"), h("p", { text: t("done_intro") }), button(t("continue"), () => screenUnlock(), "primary"));
}

// -- Finnish bank ID (APP-9) -------------------------------------------------------------------

function screenBankId() {
  const f = form([], t("bank_id_start"), async () => {
    const verifier = randomToken(48);
    sessionStorage.setItem("portti-bank-id-verifier", verifier);
    const answer = await call("POST", "/activations/bank-id", {
      body: { provider: "fi_bank", code_challenge: b64url(await sha256(verifier)), return_to: "web_app" },
    });
    window.location.assign(answer.authorization_url);
  });
  show(t("bank_id_title"), h("p", { text: t("bank_id_intro") }), f.el, button(t("back"), screenWelcome, "link"));
}

async function finishBankId(handoff) {
  const verifier = sessionStorage.getItem("portti-bank-id-verifier");
  sessionStorage.removeItem("portti-bank-id-verifier");
  history.replaceState(null, "", "/app/");
  const box = alertBox();
  try {
    const answer = await call("POST", "/activations/bank-id/handoff", { body: { handoff, code_verifier: verifier || "" } });
    await saveActivation(answer.activation_token, { person: answer.person, method: "bank_id" });
    goStep(answer.step);
  } catch (error) {
    show(t("bank_id_title"), box, button(t("start_again"), screenWelcome, "primary"));
    showError(box, error);
  }
}

// -- unlocked: unlock, home, lock and log out (APP-5 … APP-8) ---------------------------------

async function proof(purpose, context, { pin, biometric }) {
  const { nonce } = await appCallOrDevice("POST", `/devices/${state.device.deviceId}/challenges`, { purpose, context });
  return proofFor(purpose, nonce, context, { pin, biometric });
}

async function proofFor(purpose, nonce, context, { pin, biometric }) {
  const body = { nonce, signature: await sign(state.device.privateKey, state.device.alg, purpose, nonce, context) };
  if (biometric) body.biometric_signature = await webauthn.assert(state.device.webauthnCredential, purpose, nonce, context);
  else body.pin = pin;
  return body;
}

function appCallOrDevice(method, path, body) {
  return call(method, path, { body, token: state.session });
}

function screenUnlock(message) {
  const pin = pinField(t("pin_label"));
  const f = form([pin], t("log_in_with_pin"), async () => unlock({ pin: pin.input.value }));
  const bio = state.device?.webauthnCredential
    ? button(t("log_in_with_biometrics"), async () => {
        try {
          showError(f.box, null);
          await unlock({ biometric: true });
        } catch (error) {
          if (error instanceof ApiError && handleGlobal(error)) return;
          showError(f.box, error);
          if (error instanceof ApiError && error.retryAfter) countdown(f.box, error.retryAfter, f.waitButtons);
        }
      })
    : null;
  if (bio) f.waitButtons.push(bio);
  show(
    t("unlock_title"),
    h("p", { text: bio ? t("unlock_intro") : t("unlock_intro_pin") }),
    f.el,
    bio,
    button(t("forgot_pin"), screenForgotPin, "link"),
  );
  if (message) showError(f.box, message);
}

// The PIN cannot be recovered: the app is activated again the way it was, and the new
// activation replaces this one on the phone.
function screenForgotPin() {
  const bank = state.device?.method === "bank_id";
  show(
    t("forgot_pin_title"),
    h("p", { text: bank ? t("forgot_pin_intro_bank") : t("forgot_pin_intro") }),
    h(
      "div",
      { class: "actions" },
      bank
        ? button(t("bank_id_title"), () => replaceDevice().then(screenBankId), "primary")
        : button(t("log_in_with_account"), () => replaceDevice().then(screenReactivate), "primary"),
      button(t("back"), () => screenUnlock(), "link"),
    ),
  );
}

async function unlock(how) {
  const body = await proof("unlock", null, how);
  const answer = await call("POST", `/devices/${state.device.deviceId}/unlock`, { body });
  state.session = answer.app_session_token;
  await screenHome();
}

async function screenHome(message) {
  let me = null;
  try {
    me = await appCall("GET", "/me");
    state.person = me.person;
  } catch (error) {
    if (error instanceof ApiError && handleGlobal(error)) return;
  }
  const person = state.person || state.device.person || {};
  const bank = state.device?.method === "bank_id";
  const box = alertBox();
  const pendingList = h("ul", { class: "pending" });
  const pendingSection = h(
    "section",
    { "aria-labelledby": "pending-title" },
    h("h2", { id: "pending-title", text: t("pending_title") }),
    pendingList,
    button(t("refresh"), () => {
      // What the last answer said is over once the person looks again (UX-19).
      const status = root.querySelector(".status");
      if (status) status.textContent = "";
      showError(box, null);
      loadPending(pendingList, box);
    }, "link"),
  );
  show(
    t("home_title", { name: person.given_name || "" }),
    box,
    h("p", { role: "status", class: "status" }),
    h(
      "div",
      { class: "actions" },
      button(t("read_qr"), screenScan, "primary"),
      button(t("type_code"), screenTypeCode),
    ),
    pendingSection,
    h(
      "section",
      { class: "account-actions", "aria-label": t("log_out") },
      h("div", { class: "row" }, button(t("lock"), lock), h("p", { class: "muted", text: t(state.device?.webauthnCredential ? "lock_help" : "lock_help_pin") })),
      h("div", { class: "row" }, button(t("log_out"), logOut), h("p", { class: "muted", text: t(bank ? "log_out_help_bank" : "log_out_help") })),
      h("div", { class: "row" }, button(t("log_out_all"), logOutEverywhere, "danger"), h("p", { class: "muted", text: t(bank ? "log_out_all_help_bank" : "log_out_all_help") })),
    ),
  );
  if (message) root.querySelector(".status").textContent = message;
  loadPending(pendingList, box);
}

async function loadPending(list, box) {
  try {
    const answer = await appCall("GET", "/login-approvals/pending");
    list.replaceChildren();
    if (!answer.approvals.length) list.append(h("li", { class: "muted", text: t("pending_none") }));
    for (const approval of answer.approvals) {
      const title = approvalTitle(approval);
      list.append(h("li", {}, h("span", { text: `${title} ${approval.browser}` }), button(t("review"), () => screenApproval(approval))));
    }
  } catch (error) {
    if (error instanceof ApiError && handleGlobal(error)) return;
    showError(box, error);
  }
}

async function lock() {
  try {
    await appCall("POST", "/session/lock", {});
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
  }
  state.session = null;
  screenUnlock();
}

async function logOut() {
  try {
    await appCall("POST", "/session/logout", {});
  } catch (error) {
    if (!(error instanceof ApiError)) {
      showError(root.querySelector(".alert"), error);
      return;
    }
    if (error.code === "app_locked") {
      handleGlobal(error);
      return;
    }
  }
  await webauthn.forget(state.device?.webauthnCredential);
  await forgetDevice();
  screenWelcome(t("logged_out"));
}

async function logOutEverywhere() {
  const bank = state.device?.method === "bank_id";
  if (!window.confirm(t(bank ? "log_out_all_confirm_bank" : "log_out_all_confirm"))) return;
  let answer;
  try {
    answer = await appCall("POST", "/session/logout-everywhere", {});
  } catch (error) {
    if (!(error instanceof ApiError && handleGlobal(error))) showError(root.querySelector(".alert"), error);
    return;
  }
  await forgetDevice();
  screenWelcome(t(bank ? "logged_out_all_bank" : "logged_out_all", { n: answer.devices_ended }));
}

// -- web login: scan, type the code, approve (WEB-1, WEB-2, ADM-2) ----------------------------

function stopScanner() {
  if (state.scanner) {
    state.scanner.stop();
    state.scanner = null;
  }
}

function screenScan() {
  const typeButton = button(t("type_code"), screenTypeCode);
  const video = h("video", { class: "camera", playsinline: true, muted: true, "aria-label": t("camera_label") });
  const status = h("p", { role: "status", text: t("camera_starting") });
  const box = alertBox();
  show(
    t("scan_title"),
    h("p", { text: t("scan_intro") }),
    video,
    status,
    box,
    h("div", { class: "actions" }, typeButton, button(t("cancel"), () => screenHome(), "link")),
  );
  let busy = false;
  const scanner = new QrScanner(video, async (text) => {
    if (busy || !text.startsWith("portti1.")) return;
    busy = true;
    try {
      const approval = await appCall("POST", "/login-approvals/scan", { qr: text });
      screenApproval(approval);
    } catch (error) {
      if (error instanceof ApiError && handleGlobal(error)) return;
      showError(box, error);
      // A stale frame: the next frame is fresh. Anything else: keep looking too.
      setTimeout(() => {
        busy = false;
      }, 800);
    }
  });
  state.scanner = scanner;
  scanner
    .start()
    .then(() => {
      status.textContent = t("camera_looking");
    })
    .catch((error) => {
      // In words, never the browser's error name; the black box goes, typing the code stays.
      const name = error && error.name;
      const why =
        name === "NotFoundError" || name === "OverconstrainedError"
          ? "camera_not_found"
          : name === "NotAllowedError" || name === "SecurityError"
            ? "camera_refused"
            : "camera_unusable";
      video.hidden = true;
      status.textContent = `${t(why)} ${t("camera_type_instead")}`;
      typeButton.classList.replace("secondary", "primary");
      typeButton.focus();
    });
}

function screenTypeCode() {
  const code = field(t("code_label"), { autocomplete: "off", autocapitalize: "characters", spellcheck: "false", required: true, maxlength: "20" });
  const f = form([code], t("next"), async () => {
    const approval = await appCall("POST", "/login-approvals/code", { code: code.input.value });
    screenApproval(approval);
  });
  show(t("code_title"), h("p", { text: t("code_intro") }), f.el, button(t("cancel"), () => screenHome(), "link"));
}

// "Log in to Numerot accounting?" when a business application asked (UX-14).
function approvalTitle(approval) {
  const service = approval.client_name || approval.service;
  return approval.purpose === "step_up"
    ? t("approve_step_up_title", { service })
    : t("approve_login_title", { service });
}

function screenApproval(approval) {
  const title = approvalTitle(approval);
  // SEC-16: a login asked for on another site cannot be approved (the server refuses it too);
  // one from a page that did not say its address needs a deliberate confirmation.
  const foreign = !approval.origin_matches && Boolean(approval.origin);
  const unknownSite = !approval.origin_matches && !approval.origin;
  const site = approval.service_origin || location.origin;
  const details = h("dl", { class: "details" });
  const rows = [
    [t("detail_service"), approval.client_name ? `${approval.client_name} (${approval.service})` : null],
    [t("detail_browser"), approval.browser],
    [t("detail_place"), approval.place],
    [t("detail_origin"), approval.origin || t("origin_not_told")],
    [t("detail_country"), approval.country],
    [t("detail_time"), approval.requested_at ? formatTime(new Date(approval.requested_at)) : null],
  ];
  for (const [label, value] of rows) {
    if (value) details.append(h("dt", { text: label }), h("dd", { text: value }));
  }
  const timeLeft = approval.expires_at ? expiryTimer(Date.parse(approval.expires_at)) : null;
  const numbers = h(
    "fieldset",
    { class: "numbers" },
    h("legend", { text: t("pick_number") }),
    approval.numbers.map((n, i) =>
      h("div", { class: "number" }, h("input", { type: "radio", name: "number", id: `number-${i}`, value: String(n) }), h("label", { for: `number-${i}`, text: String(n) })),
    ),
  );
  const pin = pinField(t("pin_label"));
  let challenge = approval.challenge;
  const confirmSite = unknownSite
    ? h(
        "div",
        { class: "check" },
        h("input", { type: "checkbox", id: "confirm-site" }),
        h("label", { for: "confirm-site", text: t("origin_confirm", { site }) }),
      )
    : null;
  const picked = () => {
    const chosen = numbers.querySelector("input:checked");
    if (!chosen) throw new Error(t("pick_a_number"));
    return Number(chosen.value);
  };
  const approve = async (how) => {
    if (confirmSite && !confirmSite.querySelector("input").checked) throw new Error(t("origin_confirm_needed"));
    const number = picked();
    const context = approval.approval_id;
    const nonce = challenge?.nonce;
    challenge = null; // every attempt uses its nonce up
    const body = nonce ? await proofFor("approve_login", nonce, context, how) : await proof("approve_login", context, how);
    try {
      await appCall("POST", `/login-approvals/${approval.approval_id}/approve`, { ...body, number });
    } catch (error) {
      if (error instanceof ApiError && LOGIN_OVER.has(error.code)) {
        // The login cannot be approved any more (a wrong number ends it): say so, and lead
        // home, not back to buttons that can only fail or raise a false alarm.
        screenProblem(error.title || t("login_over_title"), error, [
          button(t("back_to_home"), () => screenHome(), "primary"),
        ]);
        return;
      }
      throw error;
    }
    screenHome(t("approved"));
  };
  const f = form([pin], t("approve_with_pin"), () => approve({ pin: pin.input.value }), [], confirmSite ? [confirmSite] : []);
  f.el.prepend(numbers);
  f.el.prepend(f.box);
  const extra = h("div", { class: "actions" });
  if (state.device?.webauthnCredential) {
    extra.append(button(t("approve_with_biometrics"), async () => {
      try {
        showError(f.box, null);
        await approve({ biometric: true });
      } catch (error) {
        if (!(error instanceof ApiError && handleGlobal(error))) showError(f.box, error);
      }
    }));
  }
  const notMe = button(t("not_me"), async () => {
    try {
      await appCall("POST", `/login-approvals/${approval.approval_id}/reject`, {});
      screenRefused();
    } catch (error) {
      if (!(error instanceof ApiError && handleGlobal(error))) showError(f.box, error);
    }
  }, "danger");
  extra.append(notMe, button(t("cancel"), () => screenHome(), "link"));
  if (foreign) {
    // Nothing to approve: the warning, what the site was, and the ways out.
    show(
      title,
      h("div", { class: "warning", role: "alert" }, h("p", { text: t("origin_warning_foreign", { origin: approval.origin, site }) })),
      details,
      h("div", { class: "actions" }, notMe, button(t("cancel"), () => screenHome(), "link")),
    );
    return;
  }
  show(
    title,
    unknownSite ? h("div", { class: "warning", role: "alert" }, h("p", { text: t("origin_warning_unknown", { site }) })) : null,
    h("p", { text: t("approve_intro") }),
    details,
    timeLeft,
    f.el,
    extra,
  );
}

// "Time left to approve: 1:45", counted by the server's clock (the approval's expiry is the
// server's), announced only when it runs out.
let expiryTimerId = null;

function expiryTimer(expiresAt) {
  if (expiryTimerId) clearInterval(expiryTimerId);
  const timer = h("p", { role: "timer", "aria-live": "off", class: "muted", "data-testid": "approve-time-left" });
  const tick = () => {
    const left = Math.ceil((expiresAt - serverNow()) / 1000);
    if (!timer.isConnected && timer.dataset.started) {
      clearInterval(expiryTimerId);
      return;
    }
    timer.dataset.started = "1";
    if (left > 0) {
      const time = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
      timer.textContent = t("approve_time_left", { time });
      return;
    }
    clearInterval(expiryTimerId);
    timer.setAttribute("role", "status");
    timer.textContent = t("approve_time_over");
  };
  tick();
  expiryTimerId = setInterval(tick, 500);
  return timer;
}

// Answers after which a login cannot be approved any more: the approval screen gives way.
const LOGIN_OVER = new Set(["number_mismatch", "login_ended", "login_expired", "approval_used", "approval_unknown"]);

// "This wasn't me": what happened and what to do about it (UX-19).
function screenRefused() {
  show(
    t("refused_title"),
    h("p", { role: "status", text: t("rejected") }),
    h("p", { text: t("refused_tell_admin") }),
    button(t("back_to_home"), () => screenHome(), "primary"),
  );
}

// -- start ---------------------------------------------------------------------------------------

async function start() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
  }
  await loadLanguage();
  const handoff = new URLSearchParams(location.hash.slice(1)).get("handoff");
  const device = await store.get("device");
  if (device) {
    state.device = device;
    screenUnlock();
    return;
  }
  if (handoff) {
    await finishBankId(handoff);
    return;
  }
  const activation = await store.get("activation");
  if (activation) {
    state.activationToken = activation.token;
    state.activation = activation.info;
    try {
      const answer = await activationCall("GET", "/activations/current");
      if (answer.email) state.activation = { ...state.activation, email: state.activation?.email || answer.email };
      goStep(answer.step);
      return;
    } catch (error) {
      await forgetActivation();
      if (error instanceof ApiError && error.code === "invitation_expired") {
        screenActivationEnded(error);
        return;
      }
    }
  }
  screenWelcome();
}

start();
