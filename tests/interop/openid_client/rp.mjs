// A relying party built on panva's openid-client (a certified OpenID Connect client library),
// driven step by step by tests/e2e/test_openid_client_interop.py.
//
//   node rp.mjs authorize            -> {"url", "state", "nonce", "verifier"}
//   node rp.mjs callback <url>       -> tokens, ID token claims, UserInfo, a refresh, and the
//                                       answer to presenting the old refresh token again
//   node rp.mjs exchange <url>       -> the ID token claims, or the error for the code
//   node rp.mjs replay <url>         -> the code redeemed, then again: the second answer, and
//                                       what UserInfo and the refresh grant then say to the
//                                       tokens of the first
//   node rp.mjs wrong-verifier <url> -> the error for a code redeemed with another verifier
//
// Settings from the environment: ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, and for the
// callback steps STATE, NONCE, VERIFIER (what "authorize" printed).
import * as client from "openid-client";

const env = process.env;
const [, , step, arg] = process.argv;

async function configuration() {
  // http:// is refused unless allowed: the test server runs on 127.0.0.1 without TLS.
  // client_secret_basic: the method the client was registered with.
  return client.discovery(
    new URL(env.ISSUER),
    env.CLIENT_ID,
    undefined,
    client.ClientSecretBasic(env.CLIENT_SECRET),
    { execute: [client.allowInsecureRequests] },
  );
}

function failure(err) {
  // A refusal at UserInfo comes as a WWW-Authenticate challenge (RFC 6750 §3).
  const challenge = Array.isArray(err.cause) ? err.cause[0]?.parameters : undefined;
  return {
    error: err.error ?? challenge?.error ?? err.code ?? err.name,
    description: err.error_description ?? challenge?.error_description ?? err.message,
    status: err.status ?? null,
  };
}

async function attempt(promise) {
  try {
    await promise;
    return null;
  } catch (err) {
    return failure(err);
  }
}

async function main() {
  const config = await configuration();
  if (step === "authorize") {
    const verifier = client.randomPKCECodeVerifier();
    const nonce = client.randomNonce();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: env.REDIRECT_URI,
      scope: env.SCOPE ?? "openid profile email companies",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      nonce,
      state,
      ...(env.EXTRA ? JSON.parse(env.EXTRA) : {}),
    });
    return { url: url.href, state, nonce, verifier };
  }
  const checks = { pkceCodeVerifier: env.VERIFIER, expectedNonce: env.NONCE, expectedState: env.STATE };
  if (step === "wrong-verifier") {
    try {
      await client.authorizationCodeGrant(config, new URL(arg), {
        ...checks,
        pkceCodeVerifier: client.randomPKCECodeVerifier(),
      });
      return { error: null };
    } catch (err) {
      return failure(err);
    }
  }
  if (step === "exchange") {
    try {
      const tokens = await client.authorizationCodeGrant(config, new URL(arg), checks);
      return { claims: tokens.claims() };
    } catch (err) {
      return failure(err);
    }
  }
  if (step === "replay") {
    const tokens = await client.authorizationCodeGrant(config, new URL(arg), checks);
    const sub = tokens.claims().sub;
    const userinfoBefore = await client.fetchUserInfo(config, tokens.access_token, sub);
    return {
      sub: userinfoBefore.sub,
      replay: await attempt(client.authorizationCodeGrant(config, new URL(arg), checks)),
      userinfo_after: await attempt(client.fetchUserInfo(config, tokens.access_token, sub)),
      refresh_after: await attempt(client.refreshTokenGrant(config, tokens.refresh_token)),
    };
  }
  if (step === "callback") {
    const tokens = await client.authorizationCodeGrant(config, new URL(arg), checks);
    const claims = tokens.claims();
    const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
    let reuse = null;
    try {
      await client.refreshTokenGrant(config, tokens.refresh_token);
    } catch (err) {
      reuse = failure(err);
    }
    return {
      claims,
      userinfo,
      refreshed_sub: refreshed.claims()?.sub ?? null,
      refresh_rotated: refreshed.refresh_token !== tokens.refresh_token,
      id_token: tokens.id_token,
      reuse,
      end_session: client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token }).href,
    };
  }
  throw new Error(`unknown step ${step}`);
}

main().then(
  (out) => process.stdout.write(JSON.stringify(out) + "\n"),
  (err) => {
    process.stdout.write(JSON.stringify({ fatal: failure(err) }) + "\n");
    process.exit(1);
  },
);
