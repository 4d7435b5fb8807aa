// A certified OpenID Provider (panva's oidc-provider, defaults kept unless a test needs a feature
// switched on) for Portti's relying-party interoperability tests.
//
//   node provider.mjs config.json
//
// config.json: { "port": 0, "issuer": "http://127.0.0.1:PORT", "clients": [client metadata...],
//                "acrValues": [...] }
// Prints "READY <port>" on stdout once listening.
//
// Interaction (the person's part) is driven by the test over HTTP instead of a login page:
//   GET  /interaction/:uid          -> JSON: the prompt and the authorization parameters
//   POST /interaction/:uid/login    form: account (base64url JSON of the identity), acr, amr, ts
//   POST /interaction/:uid/abort    form: error, error_description
// The login answer also grants the requested scopes and claims, so no consent page follows.
//
// Test-only switches, to make the provider misbehave or change on demand (JSON bodies):
//   POST /__test__/keys     {"jwks": {...}, "published": {...}?}  a new provider instance on the
//                           same port and issuer signs with "jwks" and publishes "published" (by
//                           default the public half of "jwks"): a key rotation, a reused kid, a
//                           key signed with but no longer published
//   POST /__test__/id-token {"client_id": "...", "claims": {...}?, "alg": "none"?}  the next ID
//                           token issued to that client gets these claims, re-signed with the
//                           provider's own key (or left unsigned with "none")
//   POST /__test__/nonce    {"client_id": "...", "nonce": "..."}  the next authorization request
//                           of that client reaches the provider with this nonce instead
//   GET  /__test__/seen     what the provider saw since the last call: its key set's fetches,
//                           token requests and the audiences of client assertions, then forgets
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = config.issuer;

function identityOf(accountId) {
  return JSON.parse(Buffer.from(accountId, 'base64url').toString('utf8'));
}

// What the test switches asked for, and what the provider saw.
const pendingIdTokens = new Map();
const pendingNonces = new Map();
let seen = { jwksFetches: 0, tokenRequests: 0, assertions: [] };

function b64json(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

function signJws(header, payload, jwks) {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${
    Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  if (header.alg === 'none') return `${input}.`;
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  const key = crypto.createPrivateKey({ key: jwk, format: 'jwk' });
  const digest = `sha${header.alg.slice(2)}`;
  let signature;
  if (header.alg.startsWith('RS')) signature = crypto.sign(digest, Buffer.from(input), key);
  else if (header.alg.startsWith('PS')) {
    signature = crypto.sign(digest, Buffer.from(input), {
      key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(header.alg.slice(2)) / 8,
    });
  } else {
    signature = crypto.sign(digest, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  }
  return `${input}.${signature.toString('base64url')}`;
}

// The test switches, around oidc-provider's own handling of each request.
async function testSwitches(ctx, next, signing) {
  if (ctx.method === 'GET' && ctx.path === '/auth' && pendingNonces.has(ctx.query.client_id)) {
    const nonce = pendingNonces.get(ctx.query.client_id);
    pendingNonces.delete(ctx.query.client_id);
    ctx.query = { ...ctx.query, nonce };
  }
  if (ctx.method === 'GET' && ctx.path === '/jwks') seen.jwksFetches += 1;
  if (ctx.method === 'POST' && ctx.path === '/token') seen.tokenRequests += 1;
  await next();
  // The PAR endpoint's params hold only authorization parameters; the form has the rest.
  const assertion = ctx.oidc && ((ctx.oidc.body && ctx.oidc.body.client_assertion)
    || (ctx.oidc.params && ctx.oidc.params.client_assertion));
  if (assertion) {
    seen.assertions.push({
      endpoint: ctx.path,
      client_id: ctx.oidc.client && ctx.oidc.client.clientId,
      aud: b64json(assertion.split('.')[1]).aud,
    });
  }
  if (ctx.path === '/token' && ctx.status === 200 && ctx.body && ctx.body.id_token) {
    const clientId = ctx.oidc.client.clientId;
    const change = pendingIdTokens.get(clientId);
    if (change) {
      pendingIdTokens.delete(clientId);
      const [header, payload] = ctx.body.id_token.split('.').slice(0, 2).map(b64json);
      const newHeader = change.alg === 'none' ? { alg: 'none' } : header;
      ctx.body = {
        ...ctx.body,
        id_token: signJws(newHeader, { ...payload, ...(change.claims || {}) }, signing),
      };
    }
  }
}

function makeProvider(jwks, published) {
  const provider = new Provider(issuer, {
    clients: config.clients,
    acrValues: config.acrValues || [],
    claims: {
      amr: null,
      openid: ['sub'],
      profile: ['given_name', 'family_name', 'name'],
      national_id: ['national_id', 'national_id_country'],
    },
    scopes: ['openid', 'profile', 'national_id'],
    async findAccount(ctx, id) {
      const who = identityOf(id);
      return {
        accountId: id,
        async claims() {
          return {
            sub: id.slice(0, 40),
            given_name: who.given_name,
            family_name: who.family_name,
            name: `${who.given_name} ${who.family_name}`,
            national_id: who.national_id,
            national_id_country: who.country,
          };
        },
      };
    },
    features: {
      devInteractions: { enabled: false },
      claimsParameter: { enabled: true },
      encryption: { enabled: true },
      jwtUserinfo: { enabled: true },
      requestObjects: { enabled: true },
      pushedAuthorizationRequests: { enabled: true },
    },
    enabledJWA: {
      // HS256 only for the client whose ID tokens a relying party must refuse.
      idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256', 'HS256'],
      requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256'],
      clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256'],
      idTokenEncryptionAlgValues: ['RSA-OAEP-256', 'ECDH-ES'],
      idTokenEncryptionEncValues: ['A256GCM', 'A128CBC-HS256'],
      userinfoEncryptionAlgValues: ['RSA-OAEP-256', 'ECDH-ES'],
      userinfoEncryptionEncValues: ['A256GCM', 'A128CBC-HS256'],
      userinfoSigningAlgValues: ['RS256', 'PS256', 'ES256'],
    },
    jwks,
    // Its SSRF protection refuses loopback addresses; here Portti's key set is on 127.0.0.1.
    fetch(url, options) {
      const { dispatcher, ...rest } = options;
      return globalThis.fetch(url, rest);
    },
    pkce: { required: () => true },
    ttl: {
      IdToken: 60,
      AccessToken: 60,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 600,
      Grant: 600,
    },
    interactions: {
      url(ctx, interaction) {
        return `/interaction/${interaction.uid}`;
      },
    },
    cookies: { keys: ['interop-tests-only'] },
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  provider.proxy = false;
  for (const event of ['grant.error', 'pushed_authorization_request.error', 'authorization.error', 'userinfo.error', 'server_error']) {
    provider.on(event, (ctx, err) => console.error(event, err, err && err.cause));
  }
  provider.use((ctx, next) => testSwitches(ctx, next, jwks));
  if (published) {
    // Publish another set than the one signed with (a retired key still in use).
    provider.use(async (ctx, next) => {
      if (ctx.method === 'GET' && ctx.path === '/jwks') {
        ctx.type = 'application/jwk-set+json; charset=utf-8';
        ctx.body = published;
        return;
      }
      await next();
    });
  }
  return provider;
}

// Codes, sessions and interactions live in oidc-provider's in-memory adapter, which every
// instance in this process shares, so a new instance carries on with the logins in progress.
let provider = makeProvider(config.jwks);
let handler = provider.callback();

function readBody(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

async function readForm(req) {
  return Object.fromEntries(new URLSearchParams(await readBody(req)));
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  if (!action) {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ prompt: details.prompt, params: details.params }));
    return;
  }
  const form = await readForm(req);
  if (action === 'abort') {
    await provider.interactionFinished(req, res, {
      error: form.error || 'access_denied',
      error_description: form.error_description,
    }, { mergeWithLastSubmission: false });
    return;
  }
  const accountId = form.account;
  const { params } = details;
  const grant = new provider.Grant({ accountId, clientId: params.client_id });
  grant.addOIDCScope(params.scope);
  grant.addOIDCClaims(['national_id', 'national_id_country', 'given_name', 'family_name', 'name']);
  const grantId = await grant.save();
  const login = { accountId };
  if (form.acr) login.acr = form.acr;
  if (form.amr) login.amr = form.amr.split(' ');
  if (form.ts) login.ts = Number(form.ts);
  await provider.interactionFinished(req, res, { login, consent: { grantId } }, {
    mergeWithLastSubmission: false,
  });
}

async function testSwitch(req, res, name) {
  res.setHeader('content-type', 'application/json');
  if (name === 'seen') {
    res.end(JSON.stringify(seen));
    seen = { jwksFetches: 0, tokenRequests: 0, assertions: [] };
    return;
  }
  const body = JSON.parse(await readBody(req));
  if (name === 'keys') {
    provider = makeProvider(body.jwks, body.published);
    handler = provider.callback();
  } else if (name === 'id-token') {
    pendingIdTokens.set(body.client_id, body);
  } else if (name === 'nonce') {
    pendingNonces.set(body.client_id, body.nonce);
  } else {
    res.statusCode = 404;
  }
  res.end('{}');
}

const server = http.createServer((req, res) => {
  const test = /^\/__test__\/(keys|id-token|nonce|seen)$/.exec(req.url);
  if (test) {
    testSwitch(req, res, test[1]).catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
    return;
  }
  const match = /^\/interaction\/([^/?]+)(?:\/(login|abort))?/.exec(req.url);
  if (match) {
    interaction(req, res, match[1], match[2]).catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
    return;
  }
  handler(req, res);
});
server.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`READY ${server.address().port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
