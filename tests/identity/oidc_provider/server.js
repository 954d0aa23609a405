// A real OpenID Provider for the sign-in tests: panva/oidc-provider (OpenID
// certified), with two users, a groups claim and a minimal login page.
// Test-only: plain HTTP on loopback, passwords in this file.
//
// Environment (set by tests/identity/conftest.py):
//   PORT           the port to listen on, 127.0.0.1 only
//   CLIENT_ID, CLIENT_SECRET, REDIRECT_URI   the one client (the app)
//   ID_TOKEN_MODE  "" for honest ID tokens; else the token endpoint answers
//                  with a forged one: "bad-signature" (signed with a key the
//                  JWKS does not publish, under the published key's kid),
//                  "wrong-audience", "expired" (both signed with the real
//                  key), "alg-none" (unsigned) or "hs256" (signed with the
//                  client secret).
import http from 'node:http';

import { SignJWT, exportJWK, generateKeyPair, importJWK } from 'jose';
import Provider from 'oidc-provider';

const env = process.env;
const port = Number(env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const mode = env.ID_TOKEN_MODE || '';

const USERS = {
  alice: { password: 'alice-password', name: 'Alice Example', groups: ['payments-team'] },
  bob: { password: 'bob-password', name: 'Bob Example', groups: ['architects'] },
};

const KID = 'test-signing-key';
const signing = await generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await exportJWK(signing.privateKey)), kid: KID, alg: 'RS256', use: 'sig' };
const unpublished = await generateKeyPair('RS256', { extractable: true });

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: env.CLIENT_ID,
      client_secret: env.CLIENT_SECRET,
      redirect_uris: [env.REDIRECT_URI],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_post',
    },
  ],
  jwks: { keys: [signingJwk] },
  cookies: { keys: ['test-only-cookie-key'] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  scopes: ['openid', 'profile', 'email', 'groups'],
  // The requested claims go into the ID token too, not only the userinfo.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, sub) {
    const user = USERS[sub];
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          name: user.name,
          preferred_username: sub,
          email: `${sub}@example.test`,
          email_verified: true,
          groups: user.groups,
        };
      },
    };
  },
});

function decodePart(part) {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

async function forge(idToken) {
  const [, payloadPart] = idToken.split('.');
  const claims = decodePart(payloadPart);
  const now = Math.floor(Date.now() / 1000);
  const realKey = await importJWK(signingJwk, 'RS256');
  switch (mode) {
    case 'bad-signature':
      return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: KID }).sign(unpublished.privateKey);
    case 'wrong-audience':
      return new SignJWT({ ...claims, aud: 'another-client', azp: undefined })
        .setProtectedHeader({ alg: 'RS256', kid: KID })
        .sign(realKey);
    case 'expired':
      return new SignJWT({ ...claims, iat: now - 7200, exp: now - 3600 })
        .setProtectedHeader({ alg: 'RS256', kid: KID })
        .sign(realKey);
    case 'alg-none': {
      const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
      return `${header}.${payloadPart}.`;
    }
    case 'hs256':
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', kid: KID })
        .sign(new TextEncoder().encode(env.CLIENT_SECRET));
    default:
      throw new Error(`unknown ID_TOKEN_MODE ${mode}`);
  }
}

if (mode) {
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.path === '/token' && ctx.body && ctx.body.id_token) {
      ctx.body = { ...ctx.body, id_token: await forge(ctx.body.id_token) };
    }
  });
}

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, error) {
  return `<!doctype html><html><head><title>Test identity provider</title></head><body>
<h1>Test identity provider</h1>
${error ? `<p id="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
  <label>Username <input name="username" autocomplete="username"></label>
  <label>Password <input name="password" type="password" autocomplete="current-password"></label>
  <button type="submit">Log in</button>
</form></body></html>`;
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// The login prompt asks for a password; the consent prompt is granted at
// once (the app is the organisation's own client).
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const { uid, prompt, params } = details;
  if (req.method === 'POST' && req.url.endsWith('/login')) {
    const form = await readForm(req);
    const user = USERS[form.get('username')];
    if (!user || user.password !== form.get('password')) {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end(loginPage(uid, 'Wrong username or password.'));
      return;
    }
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: form.get('username') } },
      { mergeWithLastSubmission: false },
    );
    return;
  }
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    if (missing.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  res.writeHead(200, { 'Content-Type': 'text/html' });
  res.end(loginPage(uid, ''));
}

const handle = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/interaction/')) {
    interaction(req, res).catch((error) => {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(String(error));
    });
    return;
  }
  handle(req, res);
});
server.listen(port, '127.0.0.1', () => console.log(`test OpenID provider at ${issuer}`));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
