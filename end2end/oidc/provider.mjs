// A real OpenID Connect provider (npm's oidc-provider) for the sign-in tests: the
// console's `--auth openid` runs the authorization code flow with PKCE against it, and
// impersonates the ID token's user and groups. Its development login page accepts any
// name (the name becomes `sub`); alice and bob get groups.
//
//   OIDC_PORT=3190 OIDC_REDIRECT_URI=http://127.0.0.1:3105/auth/callback \
//   OIDC_CLIENT_SECRET=... node oidc/provider.mjs
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_PORT ?? 3190);
const issuer = `http://127.0.0.1:${port}`;
const redirectUri = process.env.OIDC_REDIRECT_URI;
const secret = process.env.OIDC_CLIENT_SECRET;
if (!redirectUri || !secret) {
  throw new Error('OIDC_REDIRECT_URI and OIDC_CLIENT_SECRET must be set');
}

const GROUPS = {
  alice: ['release-managers', 'developers'],
  bob: ['developers'],
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'sluice',
      client_secret: secret,
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email'],
    groups: ['groups'],
  },
  // The ID token itself carries the claims the scopes ask for (the console reads the
  // user's groups from it).
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          name: id,
          preferred_username: id,
          email: `${id}@example.com`,
          groups: GROUPS[id] ?? [],
        };
      },
    };
  },
});
provider.proxy = false;
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
