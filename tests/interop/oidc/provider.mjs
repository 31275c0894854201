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
const key = (type, options, alg, kid) => ({
  ...crypto.generateKeyPairSync(type, options).privateKey.export({ format: 'jwk' }), alg, kid, use: 'sig',
});
const keys = [
  key('rsa', { modulusLength: 2048 }, 'RS256', 'rs256-1'),
  key('ec', { namedCurve: 'P-256' }, 'ES256', 'es256-1'),
  key('ed25519', {}, 'EdDSA', 'eddsa-1'),
];

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'hs-control',
    client_secret: env('CLIENT_SECRET'),
    redirect_uris: [env('REDIRECT_URI')],
    response_types: ['code'],
    grant_types: ['authorization_code'],
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
  features: { devInteractions: { enabled: true } },
  async findAccount(ctx, id) {
    const user = users()[id];
    if (!user) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...user }; } };
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.on('grant.error', (ctx, err) => console.error('grant.error', err.message, err.error_description ?? ''));

const server = https.createServer({ key: fs.readFileSync(env('TLS_KEY')), cert: fs.readFileSync(env('TLS_CERT')) },
  provider.callback());
server.listen(port, host, () => console.log('ready'));
