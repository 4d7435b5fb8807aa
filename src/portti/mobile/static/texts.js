// Every text the app shows. The English texts below are the message ids of Portti's catalogues
// (src/portti/locale, extracted by portti.i18n:extract_app_texts); the server translates them to
// the phone's language at /app/texts (Finnish, Swedish or English, from Accept-Language), and
// loadLanguage() takes them in before the first screen. `{name}` placeholders are filled by t().
// A text that counts comes as a pair, `key_one` and `key_other` (the catalogue's plural forms,
// singular and plural in English): t("key", { n }) picks the form the language uses for n.

export const CATALOGUES = {
  en: {
    app_name: "Portti",
    loading: "Loading…",
    offline: "You are offline. Portti needs a connection for this step.",
    welcome_title: "Log in to Portti",
    welcome_intro: "Log in with Finnish bank ID, or activate the app with an invitation.",
    finnish_bank_id: "Finnish bank ID",
    no_bank_id: "Don't have a Finnish bank ID",
    no_bank_id_title: "Don't have a Finnish bank ID?",
    have_signup_code: "I have a sign-up code",
    have_signup_code_help: "To activate the app the first time, with the code from your invitation e-mail.",
    two_factor_done: "Two-factor authentication already done",
    two_factor_done_help: "If you already have a Portti account (e-mail address, password and authenticator app): log in with it. No new invitation is needed.",
    back: "Back",
    next: "Next",
    cancel: "Cancel",
    signup_title: "Enter your sign-up code",
    signup_intro: "Enter the 16-digit sign-up code from the invitation e-mail.",
    signup_label: "Sign-up code",
    invited_by: "{inviter} invited you to {company}.",
    phone_title: "Enter the confirmation code",
    phone_intro: "Enter the 6-digit confirmation code we sent by SMS to {phone}.",
    phone_intro_plain: "Enter the 6-digit confirmation code we sent to you by SMS.",
    sms_code_label: "Confirmation code",
    didnt_get_code: "Didn't get the code?",
    resend_code: "Resend code?",
    resends_left_one: "You can ask for {n} more new code.",
    resends_left_other: "You can ask for {n} more new codes.",
    no_resends_left: "You cannot ask for more new codes. Ask your company's user administrator for a confirmation code.",
    no_resends_left_inviter: "You cannot ask for more new codes. Ask {inviter}, who invited you, for a confirmation code.",
    code_resent: "A new code is on its way. It replaces the previous one.",
    account_title: "Create your account",
    account_intro: "Your account is your e-mail address, a password and an authenticator app. We send a code to the address.",
    email_label: "E-mail address",
    log_in_with_account: "Log in with your account",
    verify_email_title: "Check your e-mail",
    verify_email_intro: "Enter the 6-digit code we sent to your e-mail address.",
    email_code_label: "Code from the e-mail",
    send_new_email_code: "Send a new code",
    password_title: "Choose a password",
    password_intro: "At least 12 characters. A few unrelated words make a good password.",
    password_label: "Password",
    password_again_label: "Password again",
    passwords_differ: "The passwords are not the same. Type them again.",
    totp_title: "Set up your authenticator app",
    totp_intro: "Open your authenticator app (for example Google Authenticator), add an account and scan this QR code.",
    totp_qr_alt: "QR code for your authenticator app",
    totp_open_link: "Open in an authenticator app on this phone",
    totp_secret_label: "Or type this key into the authenticator app:",
    totp_code_label: "Security code from the authenticator app",
    existing_title: "Log in with your account",
    existing_intro: "Your e-mail address, password and the security code from your authenticator app.",
    reactivate_title: "Log in with your account",
    terms_title: "Terms and conditions",
    terms_version: "Version {version}",
    accept_terms: "Accept the terms and conditions",
    pin_title: "Create a personal PIN code",
    pin_intro: "6 digits. Not one digit repeated and not a run such as 123456.",
    pin_label: "PIN code",
    confirm_pin_title: "Confirm the PIN code",
    confirm_pin_label: "PIN code again",
    pin_too_simple: "Choose a PIN that is not all the same digit, a run such as 123456 or 654321, or a short repeated pattern such as 121212.",
    pins_differ: "The PIN codes are not the same. Create the PIN code again.",
    use_biometrics: "Also log in with fingerprint or Face ID",
    biometrics_unavailable: "This phone offers no fingerprint or face check to the browser; you will use the PIN.",
    done_title: "Done",
    done_intro: "You can now log in to Portti on a computer and in the mobile app.",
    continue: "Continue",
    unlock_title: "Log in to the Portti app",
    unlock_intro: "Log in with PIN, fingerprint or Face ID.",
    unlock_intro_pin: "Log in with your PIN.",
    log_in_with_pin: "Log in with PIN",
    log_in_with_biometrics: "Log in with fingerprint or Face ID",
    home_title: "Hello, {name}",
    read_qr: "Read QR code for web login",
    type_code: "Type a code instead",
    pending_title: "Waiting for your approval",
    pending_none: "Nothing is waiting for your approval.",
    refresh: "Refresh",
    review: "Review",
    lock: "Lock",
    lock_help: "Lock ends the session; log back in with fingerprint, Face ID or PIN.",
    lock_help_pin: "Lock ends the session; log back in with your PIN.",
    log_out: "Log out",
    log_out_help: "Log out logs you out of the app; the app then needs your account again (or Finnish bank ID).",
    log_out_all: "Log out from all devices",
    log_out_all_help: "Logs your account out of the app on every device; logging in again needs a new invitation from your user administrator.",
    log_out_all_confirm: "Log out from all devices? Logging in again needs a new invitation from your company's user administrator.",
    logged_out_all_one: "You were logged out from {n} device. To use the app again, ask your user administrator for a new invitation.",
    logged_out_all_other: "You were logged out from {n} devices. To use the app again, ask your user administrator for a new invitation.",
    logged_out: "You are logged out of the app.",
    scan_title: "Read QR code for web login",
    scan_intro: "Point the camera at the QR code on the login page.",
    camera_label: "Camera view",
    camera_starting: "Starting the camera…",
    camera_looking: "Looking for the QR code…",
    camera_not_found: "No camera was found on this phone.",
    camera_refused: "Portti was not allowed to use the camera. You can allow it in the browser's settings.",
    camera_unusable: "The camera could not be used.",
    camera_type_instead: "You can type a code instead: on the computer's login page, press “Type a code instead” to see it.",
    code_title: "Type the login code",
    code_intro: "On the computer's login page, press “Type a code instead”. Type here the 8-character code it shows.",
    code_label: "Login code",
    approve_login_title: "Log in to {service}?",
    approve_step_up_title: "Authenticate in {service}?",
    approve_intro: "Only approve if you are logging in yourself right now.",
    detail_browser: "Browser",
    detail_place: "Place",
    detail_origin: "Web address",
    detail_country: "Country",
    detail_time: "Asked at",
    approve_time_left: "Time left to approve: {time}",
    approve_time_over: "The time to approve this login has run out.",
    pick_number: "Pick the number the browser shows",
    approve_with_pin: "Approve with PIN",
    approve_with_biometrics: "Approve with fingerprint or Face ID",
    not_me: "This wasn't me",
    approved: "Approved. The browser logs you in now.",
    rejected: "You refused the login: nobody was logged in, and the browser that asked was told so.",
    pick_a_number: "Pick the number the browser shows first.",
    bank_id_title: "Activate with Finnish bank ID",
    bank_id_intro: "You will identify with your bank. Then come back to this app.",
    bank_id_start: "Identify with Finnish bank ID",
    error_title: "Something went wrong",
    error_network: "Portti could not be reached. Check the connection and try again.",
    wait_seconds_one: "Try again in {n} second.",
    wait_seconds_other: "Try again in {n} seconds.",
    start_again: "Start again",
    wait_over: "You can try again now.",
    try_again: "Try again",
    back_to_start: "Back to the start",
    back_to_home: "Back to the start page",
    activation_ended_title: "The activation has ended",
    login_over_title: "The login can no longer be approved",
    activate_again_title: "Activate the app again",
    enter_new_code: "Enter the new sign-up code",
    forgot_pin: "Forgot your PIN?",
    forgot_pin_title: "Forgot your PIN?",
    forgot_pin_intro: "A PIN cannot be recovered. Activate the app again and create a new PIN: log in with your account (e-mail address, password and the code from your authenticator app). No new invitation is needed.",
    forgot_pin_intro_bank: "A PIN cannot be recovered. Activate the app again with Finnish bank ID and create a new PIN.",
    biometrics_ip: "Fingerprint and Face ID cannot be used when the app is opened at an IP address ({host}). Open it at a named address, such as localhost, to use them. Until then you will use the PIN.",
    biometrics_insecure: "Fingerprint and Face ID need a secure (HTTPS) connection to the app. You will use the PIN.",
    log_out_help_bank: "Log out logs you out of the app; the app then needs Finnish bank ID again.",
    log_out_all_help_bank: "Logs you out of the app on every device; activate it again with Finnish bank ID whenever you like.",
    log_out_all_confirm_bank: "Log out from all devices? You can activate the app again with Finnish bank ID.",
    logged_out_all_bank_one: "You were logged out from {n} device. To use the app again, activate it with Finnish bank ID.",
    logged_out_all_bank_other: "You were logged out from {n} devices. To use the app again, activate it with Finnish bank ID.",
    refused_title: "Login refused",
    refused_tell_admin: "If you did not start this login, someone may be trying to log in as you. Tell your company's user administrator.",
    detail_service: "Application",
    origin_not_told: "Not told by the browser",
    origin_warning_foreign: "Warning: this login was asked for on {origin}, not on {site}. It cannot be approved: someone may be trying to log in as you. Choose “This wasn't me” and tell your company's user administrator.",
    origin_warning_unknown: "Warning: the page that asked for this login did not say its address, so it may not be {site}. Approve only if you opened {site} yourself just now.",
    origin_confirm: "I opened {site} myself and started this login",
    origin_confirm_needed: "Confirm first that you opened the site yourself, or choose “This wasn't me”.",
  },
};

let language = "en";

// The language the texts are in (fi, sv, en): dates and times are written its way too.
export function currentLanguage() {
  return language;
}

// Times and dates the way the app's language writes them (not the phone's region): English
// with a 24-hour clock as in Finland, where the companies are.
const DATE_LOCALES = { en: "en-GB", fi: "fi-FI", sv: "sv-SE" };

export function formatTime(date) {
  return new Intl.DateTimeFormat(DATE_LOCALES[language] || language, { hour: "2-digit", minute: "2-digit" }).format(date);
}

export function setLanguage(lang) {
  if (CATALOGUES[lang]) {
    language = lang;
    document.documentElement.lang = lang;
  }
}

// The texts in the phone's language, from the server; the last ones fetched when offline.
export async function loadLanguage() {
  let body = null;
  try {
    const response = await fetch("/app/texts", { headers: { Accept: "application/json" } });
    if (response.ok) {
      body = await response.json();
      localStorage.setItem("portti.texts", JSON.stringify(body));
    }
  } catch {
    body = JSON.parse(localStorage.getItem("portti.texts") || "null");
  }
  if (body && body.language && body.texts) {
    CATALOGUES[body.language] = { ...CATALOGUES.en, ...body.texts };
    setLanguage(body.language);
  }
}

function lookup(key) {
  return CATALOGUES[language][key] ?? CATALOGUES.en[key];
}

export function t(key, values = {}) {
  let form = key;
  if (typeof values.n === "number" && lookup(`${key}_other`) !== undefined) {
    // Finnish, Swedish and English have "one" and "other" (Intl.PluralRules, from CLDR).
    const category = new Intl.PluralRules(language).select(values.n);
    form = lookup(`${key}_${category}`) !== undefined ? `${key}_${category}` : `${key}_other`;
  }
  const text = lookup(form) ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}
