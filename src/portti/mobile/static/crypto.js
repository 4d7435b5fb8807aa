// The device key (WebCrypto) and the signatures the server checks (docs/app-api.md, section 5).
// Ed25519 where the browser offers it, ES256 (ECDSA P-256, SHA-256) otherwise. Either way the
// private key is made non-extractable and kept in IndexedDB; the public key goes to the server as
// SubjectPublicKeyInfo DER in base64url. WebCrypto's ECDSA signature is r‖s (IEEE P1363): the
// server wants DER, so it is converted here.

const encoder = new TextEncoder();

export function b64url(bytes) {
  let binary = "";
  for (const b of new Uint8Array(bytes)) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function b64urlDecode(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

export function signedMessage(purpose, nonce, context) {
  return encoder.encode(`portti-v1|${purpose}|${nonce}|${context ?? ""}`);
}

async function tryEd25519() {
  try {
    return await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
  } catch {
    return null;
  }
}

export async function makeDeviceKey({ preferEd25519 = true } = {}) {
  let pair = preferEd25519 ? await tryEd25519() : null;
  let alg = "Ed25519";
  if (!pair) {
    pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
      "sign",
      "verify",
    ]);
    alg = "ES256";
  }
  const spki = await crypto.subtle.exportKey("spki", pair.publicKey);
  return { alg, privateKey: pair.privateKey, publicKey: b64url(spki) };
}

// DER INTEGER of an unsigned big-endian number: no leading zeros, a 0x00 when the top bit is set.
function derInteger(bytes) {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i += 1;
  let body = Array.from(bytes.slice(i));
  if (body[0] & 0x80) body = [0, ...body];
  return [0x02, body.length, ...body];
}

export function p1363ToDer(raw) {
  const bytes = new Uint8Array(raw);
  const half = bytes.length / 2;
  const seq = [...derInteger(bytes.slice(0, half)), ...derInteger(bytes.slice(half))];
  return new Uint8Array([0x30, seq.length, ...seq]);
}

export async function sign(key, alg, purpose, nonce, context) {
  const message = signedMessage(purpose, nonce, context);
  if (alg === "Ed25519") {
    return b64url(await crypto.subtle.sign({ name: "Ed25519" }, key, message));
  }
  const raw = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, message);
  return b64url(p1363ToDer(raw));
}

export async function sha256(text) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

export function randomToken(bytes = 32) {
  return b64url(crypto.getRandomValues(new Uint8Array(bytes)));
}
