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
import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = config.issuer;

function identityOf(accountId) {
  return JSON.parse(Buffer.from(accountId, 'base64url').toString('utf8'));
}

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
    idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256'],
    requestObjectSigningAlgValues: ['RS256', 'PS256', 'ES256'],
    clientAuthSigningAlgValues: ['RS256', 'PS256', 'ES256'],
    idTokenEncryptionAlgValues: ['RSA-OAEP-256', 'ECDH-ES'],
    idTokenEncryptionEncValues: ['A256GCM', 'A128CBC-HS256'],
    userinfoEncryptionAlgValues: ['RSA-OAEP-256', 'ECDH-ES'],
    userinfoEncryptionEncValues: ['A256GCM', 'A128CBC-HS256'],
    userinfoSigningAlgValues: ['RS256', 'PS256', 'ES256'],
  },
  jwks: config.jwks,
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

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => resolve(Object.fromEntries(new URLSearchParams(body))));
    req.on('error', reject);
  });
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

const handler = provider.callback();
const server = http.createServer((req, res) => {
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
