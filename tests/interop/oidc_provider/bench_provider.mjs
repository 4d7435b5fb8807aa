// panva's oidc-provider set up like Portti's business-application client, for the side-by-side
// single sign-on benchmark (benchmarks/sso_roundtrip.py): its in-memory adapter, one
// confidential client (client_secret_basic, PKCE S256, ID tokens RS256), and an interaction that
// logs a fixed account in and grants what was asked, without a page.
//
//   node bench_provider.mjs config.json
//
// config.json: { "port": 0, "issuer": "http://127.0.0.1:PORT", "client": {client metadata} }
// Prints "READY <port>" on stdout once listening.
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const ACCOUNT = 'bench-account-1';

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', use: 'sig', alg: 'RS256' };

const provider = new Provider(config.issuer, {
  clients: [config.client],
  claims: {
    openid: ['sub'],
    profile: ['given_name', 'family_name', 'name'],
    email: ['email', 'email_verified'],
  },
  scopes: ['openid', 'profile', 'email'],
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          given_name: 'Kaisa',
          family_name: 'Mäkinen',
          name: 'Kaisa Mäkinen',
          email: 'kaisa@example.com',
          email_verified: true,
        };
      },
    };
  },
  features: { devInteractions: { enabled: false } },
  jwks: { keys: [jwk] },
  pkce: { required: () => true },
  ttl: { AuthorizationCode: 60, AccessToken: 600, IdToken: 600, Session: 3600, Grant: 3600, Interaction: 600 },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['benchmark-only'] },
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});
provider.proxy = false;
const handler = provider.callback();

// The login page: logs the fixed account in and grants the requested scopes at once.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { params } = details;
  const grant = new provider.Grant({ accountId: ACCOUNT, clientId: params.client_id });
  grant.addOIDCScope(params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, {
    login: { accountId: ACCOUNT },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, config.issuer);
  if (req.method === 'GET' && url.pathname.startsWith('/interaction/')) {
    interaction(req, res).catch((err) => {
      res.statusCode = 500;
      res.end(String(err));
    });
    return;
  }
  handler(req, res);
});
server.keepAliveTimeout = 60000;
server.listen(config.port, '127.0.0.1', () => {
  console.log(`READY ${server.address().port}`);
});
