// The identity provider of test_oidc.sh: panva's oidc-provider (OpenID Certified), on
// https://$HOST:$PORT with the lab's certificate. Users come from $USERS_FILE
// ({"alice": {"email": ..., "groups": [...]}, ...}); the login form is the provider's own
// development form (any password), the protocol behind it the certified implementation.
// Prints "ready" once it listens.
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';

import Provider from 'oidc-provider';

const env = (name, fallback) => process.env[name] ?? fallback;
const port = Number(env('PORT'));
const host = env('HOST', '127.0.0.1');
const issuer = `https://${host}:${port}`;
// Read at every sign-in, so a test can move a user to another group between two logins.
const users = () => JSON.parse(fs.readFileSync(env('USERS_FILE'), 'utf8'));

// Fresh keys each run, one per algorithm hs accepts; the client says which signs its ID tokens.
// With $KEYS_FILE the first start writes them there and later starts (a restart) read them back;
// IMPOSTOR=1 makes fresh ones under the same kids and keeps them to itself: another server
// answering at this issuer's address, whose tokens hs must refuse.
const key = (type, options, alg, kid) => ({
  ...crypto.generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' }), alg, kid, use: 'sig',
});
const fresh = () => [
  key('rsa', { modulusLength: 2048 }, 'RS256', 'rs256-1'),
  key('ec', { namedCurve: 'P-256' }, 'ES256', 'es256-1'),
  key('ed25519', {}, 'EdDSA', 'eddsa-1'),
];
const keysFile = env('KEYS_FILE');
let keys;
if (env('IMPOSTOR') === '1' || !keysFile) {
  keys = fresh();
} else if (fs.existsSync(keysFile)) {
  keys = JSON.parse(fs.readFileSync(keysFile, 'utf8'));
} else {
  keys = fresh();
  fs.writeFileSync(keysFile, JSON.stringify(keys), { mode: 0o600 });
}
// $MODE_FILE, read at every token request, changes the provider's behaviour for the next
// sign-ins: {"id_token_ttl": seconds} (ttl.IdToken, at least 1), {"token_delay_ms": n} (the token
// endpoint answers that much later, as a slow or distant provider does), {"id_token": "garbage"}
// or {"id_token": "absent"} (the token answer's ID token replaced by bytes that are no JWT, or
// left out: test_oauth2.sh, where hs must not read it), {"userinfo_status": n} (the userinfo
// endpoint answers HTTP n with an error body instead of the claims).
const mode = () => {
  const file = env('MODE_FILE');
  return file && fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'hs-control',
    client_secret: env('CLIENT_SECRET'),
    redirect_uris: [env('REDIRECT_URI')],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    // How hs must present the secret: test_oauth2.sh sets client_secret_post.
    token_endpoint_auth_method: env('TOKEN_AUTH_METHOD', 'client_secret_basic'),
    id_token_signed_response_alg: env('ID_TOKEN_ALG', 'RS256'),
  }],
  jwks: { keys },
  cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username', 'picture'],
    groups: ['groups'],
  },
  enabledJWA: { idTokenSigningAlgValues: ['RS256', 'ES256', 'EdDSA'] },
  pkce: { required: () => true },
  ttl: { IdToken: () => mode().id_token_ttl ?? 3600 },
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const user = users()[id];
    if (!user) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...user }; } };
  },
});
provider.use(async (ctx, next) => {
  await next();
  const m = mode();
  if (ctx.path === '/token' && ctx.status === 200 && m.id_token && ctx.body && typeof ctx.body === 'object') {
    const { id_token: _dropped, ...rest } = ctx.body;
    ctx.body = m.id_token === 'absent' ? rest : { ...rest, id_token: 'not-a-jwt.garbage.!' };
    console.log(`mode: token answer sent with id_token ${m.id_token}`);
  }
  if (ctx.path === '/me' && m.userinfo_status) {
    ctx.status = m.userinfo_status;
    ctx.body = { error: 'server_error', error_description: 'MODE_FILE userinfo_status' };
  }
  const delay = ctx.path === '/token' ? m.token_delay_ms : 0;
  if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('grant.error', (ctx, err) => console.error('grant.error', err.message, err.error_description ?? ''));

const server = https.createServer({ key: fs.readFileSync(env('TLS_KEY')), cert: fs.readFileSync(env('TLS_CERT')) },
  provider.callback());
server.listen(port, host, () => console.log('ready'));
