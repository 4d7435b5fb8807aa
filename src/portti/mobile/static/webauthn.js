// Biometrics through WebAuthn: a platform authenticator (fingerprint, Face ID, Windows Hello)
// holds a credential made for this device at binding; each approval is an assertion whose
// challenge is SHA-256 of the message the device key signs (`portti-v1|purpose|nonce|context`),
// with user verification required. The server checks the assertion against the credential's
// public key (docs/app-api.md, section 6).

import { b64url, b64urlDecode, signedMessage } from "./crypto.js";

// WebAuthn refuses IP addresses as relying-party ids: opened at http://127.0.0.1 the app offers
// only the PIN (open it at http://localhost in development).
const IP_HOST = /^(\d+\.){3}\d+$|^\[.*\]$/;

// Why the app cannot offer fingerprint or Face ID here, so that it can say so (UX-11): "ip"
// (opened at an IP address), "insecure" (not HTTPS nor localhost), "unavailable" (the phone or
// browser offers no platform authenticator); null when it can.
export async function unavailableReason() {
  if (IP_HOST.test(location.hostname)) return "ip";
  if (!window.isSecureContext) return "insecure";
  try {
    const available = Boolean(
      window.PublicKeyCredential &&
        (await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable()),
    );
    return available ? null : "unavailable";
  } catch {
    return "unavailable";
  }
}

export async function register(displayName) {
  const credential = await navigator.credentials.create({
    publicKey: {
      rp: { name: "Portti" },
      user: {
        id: crypto.getRandomValues(new Uint8Array(16)),
        name: displayName,
        displayName,
      },
      challenge: crypto.getRandomValues(new Uint8Array(32)),
      pubKeyCredParams: [
        { type: "public-key", alg: -7 },
        { type: "public-key", alg: -8 },
      ],
      authenticatorSelection: {
        authenticatorAttachment: "platform",
        userVerification: "required",
        residentKey: "discouraged",
      },
      attestation: "none",
      timeout: 60000,
    },
  });
  const response = credential.response;
  const spki = response.getPublicKey();
  if (!spki) throw new Error("The authenticator gave no public key.");
  // The server keeps the public key (SPKI); the app keeps the credential id to ask for it.
  return { id: b64url(credential.rawId), publicKey: b64url(spki) };
}

export async function assert(credentialId, purpose, nonce, context) {
  const challenge = await crypto.subtle.digest("SHA-256", signedMessage(purpose, nonce, context));
  const assertion = await navigator.credentials.get({
    publicKey: {
      challenge,
      allowCredentials: [{ type: "public-key", id: b64urlDecode(credentialId) }],
      userVerification: "required",
      timeout: 60000,
    },
  });
  const r = assertion.response;
  return [
    b64url(assertion.rawId),
    b64url(r.authenticatorData),
    b64url(r.clientDataJSON),
    b64url(r.signature),
  ].join(".");
}

export async function forget() {
  // A browser cannot delete a platform credential from script; the server forgets its key when
  // the device ends, so the credential is useless afterwards.
}
