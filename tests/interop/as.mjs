// A real OAuth 2.1 authorization server for the interop suite: oidc-provider (pinned in
// package.json), configured the way an MCP authorization server is expected to be, on loopback.
//
//   node22 as.mjs [port]          (or AS_PORT=<port>; 0 or nothing picks a free port)
//
// When ready it prints exactly one line on standard output, the issuer:
//
//   issuer: http://127.0.0.1:<port>
//
// Everything else (one line per request: method, path, status; no token, code or secret
// ever) goes to standard error.
//
// What it is configured for (see "Configuration options" in docs/README.md of oidc-provider's
// repository, for the pinned version; the npm package ships no docs):
// * open dynamic client registration (RFC 7591), no initial access token;
// * PKCE S256 required for every client (oidc-provider 9 supports only S256);
// * resource indicators (RFC 8707): any http(s) loopback resource gets RFC 9068 JWT access
//   tokens (`typ: at+jwt`) whose `aud` is the resource, with scopes `mcp:tools mcp:admin`;
// * refresh tokens for every client allowed the refresh_token grant (no offline_access needed);
// * headless login and consent: the interaction endpoint logs in the fixed test user
//   `interop-user` and grants whatever was asked, so no human is needed;
// * every registered client may ask for every MCP scope: a registration whose `scope` names fewer
//   gets them added (RFC 7591 §3.2.1 lets the server replace requested metadata). Without this,
//   oidc-provider refuses any later request for a scope the client did not register
//   (`invalid_scope`), and MCP SDKs register with the scope of the first 401 challenge only, so
//   a step-up to mcp:admin could never succeed. AS_STRICT_REGISTERED_SCOPE=1 turns this off
//   (to show what a strict server does);
// * signing keys made at start (RS256); `POST /_interop/rotate` swaps in a new signing key
//   (the old one stays published for verification) without restarting, for rotation tests;
// * token introspection (RFC 7662) and revocation (RFC 7009), both advertised in the metadata
//   (`introspection_endpoint`, `revocation_endpoint`), and the client_credentials grant.
//   Any authenticated (confidential) client may introspect any token, as a resource server
//   introspects tokens issued to other clients; a public client only its own. Only the client a
//   token was issued to may revoke it (oidc-provider's default, made explicit).
//
// For the opaque-token (introspection) scenarios, two environment variables, both unset by
// default (then nothing changes for the JWT scenarios):
// * AS_OPAQUE_RESOURCES: resource URLs (space- or comma-separated) whose access tokens are
//   opaque (`accessTokenFormat: 'opaque'`, same scopes) instead of JWTs;
// * AS_STATIC_CLIENTS: a JSON array of oidc-provider client metadata registered at start
//   (e.g. a confidential client for the resource server to authenticate to introspection, and
//   one allowed the client_credentials grant to mint tokens). Its secrets are never logged.
//
// Test control endpoints (loopback only, no authentication: this is a test fixture):
//   POST /_interop/rotate      -> {"kid": "<new signing kid>", "kids": [...published kids]}

import http from 'node:http';
import crypto from 'node:crypto';
import { importDep } from './deps.mjs';

const { Provider, errors } = await importDep('oidc-provider');
// Key rotation makes a new Provider (its keystore is fixed at construction), and each Provider
// gets its own in-memory store: give them all one store, so clients, grants and sessions
// survive the swap. (Internal modules of the pinned oidc-provider, which has no exports map.)
const { default: MemoryAdapter } = await importDep('oidc-provider/lib/adapters/memory_adapter.js');
const { default: LRU } = await importDep('oidc-provider/lib/helpers/lru.js');
const sharedStore = new LRU({ maxSize: 10000 });

const TEST_USER = 'interop-user';
const RESOURCE_SCOPES = 'mcp:tools mcp:admin';
const ACCESS_TOKEN_TTL = 600; // seconds

const port = Number(process.argv[2] ?? process.env.AS_PORT ?? 0);
const strictRegisteredScope = process.env.AS_STRICT_REGISTERED_SCOPE === '1';
const opaqueResources = new Set((process.env.AS_OPAQUE_RESOURCES ?? '').split(/[\s,]+/).filter(Boolean));
const staticClients = JSON.parse(process.env.AS_STATIC_CLIENTS || '[]');
if (!Array.isArray(staticClients)) throw new Error('AS_STATIC_CLIENTS must be a JSON array');
const host = '127.0.0.1';

function log(...parts) {
  process.stderr.write(`[as] ${parts.join(' ')}\n`);
}

async function newSigningKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  jwk.kid = `k-${crypto.randomBytes(6).toString('hex')}`;
  jwk.alg = 'RS256';
  jwk.use = 'sig';
  return jwk;
}

/** Only loopback http(s) URLs are resources here; anything else is `invalid_target`. */
function isLoopbackResource(value) {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:')
      && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)
      && url.hash === '';
  } catch {
    return false;
  }
}

const cookieKeys = [crypto.randomBytes(32).toString('base64url')];

function makeProvider(issuer, keys) {
  const provider = new Provider(issuer, {
    jwks: { keys },
    adapter: (model) => new MemoryAdapter(model, sharedStore),
    cookies: { keys: cookieKeys },
    // No pre-registered clients unless AS_STATIC_CLIENTS names some: every MCP client
    // registers itself (RFC 7591).
    clients: structuredClone(staticClients),
    // The resource scopes are listed here too: oidc-provider refuses a registration whose
    // `scope` metadata names a scope not in this list (`invalid_client_metadata`), and MCP
    // clients register with the scope they were challenged for. Listed, they also appear in
    // the metadata's scopes_supported. Tokens for a resource still carry only the scopes
    // getResourceServerInfo defines.
    scopes: ['openid', 'offline_access', ...RESOURCE_SCOPES.split(' ')],
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true, initialAccessToken: false },
      clientCredentials: { enabled: true },
      revocation: {
        enabled: true,
        // Only the client a token was issued to may revoke it (oidc-provider's default).
        allowedPolicy: async (ctx, client, token) => {
          if (token.clientId === client.clientId) return true;
          if (client.clientAuthMethod === 'none') return false;
          throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        },
      },
      introspection: {
        enabled: true,
        // A resource server introspects tokens issued to other clients: any authenticated
        // client may; a public client only its own tokens (oidc-provider's default, explicit).
        allowedPolicy: async (ctx, client, token) => client.clientAuthMethod !== 'none'
          || token.clientId === client.clientId,
      },
      resourceIndicators: {
        enabled: true,
        // The token endpoint may omit `resource` when the code was granted for exactly one.
        useGrantedResource: async () => true,
        defaultResource: async (ctx, client, oneOf) => oneOf,
        getResourceServerInfo: async (ctx, resourceIndicator) => {
          if (!isLoopbackResource(resourceIndicator)) {
            throw new errors.InvalidTarget('only loopback resources are known here');
          }
          if (opaqueResources.has(resourceIndicator)) {
            return {
              scope: RESOURCE_SCOPES,
              audience: resourceIndicator,
              accessTokenTTL: ACCESS_TOKEN_TTL,
              accessTokenFormat: 'opaque',
            };
          }
          return {
            scope: RESOURCE_SCOPES,
            audience: resourceIndicator,
            accessTokenTTL: ACCESS_TOKEN_TTL,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    pkce: { required: () => true },
    // Refresh tokens whenever the client may use them, without asking for offline_access.
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    async findAccount(ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return { sub };
        },
      };
    },
    interactions: {
      url: async (ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    clientBasedCORS: () => true,
    ttl: { AccessToken: ACCESS_TOKEN_TTL },
  });
  provider.on('server_error', (ctx, error) => log('server_error', error?.stack ?? error));
  return provider;
}

/**
 * The headless end user: logs in as TEST_USER and consents to everything asked, then sends the
 * browser (here: an HTTP client following redirects) back to the authorization endpoint.
 */
async function interaction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params } = details;
  if (prompt.name === 'login') {
    await provider.interactionFinished(req, res, { login: { accountId: TEST_USER } }, {
      mergeWithLastSubmission: false,
    });
    return 'login';
  }
  if (prompt.name === 'consent') {
    let grant;
    if (details.grantId) {
      grant = await provider.Grant.find(details.grantId);
    } else {
      grant = new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    }
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    if (missing.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    const grantId = await grant.save();
    const consent = details.grantId ? {} : { grantId };
    await provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
    return 'consent';
  }
  res.statusCode = 400;
  res.end(`unexpected prompt ${prompt.name}`);
  return `unexpected prompt ${prompt.name}`;
}

/**
 * Registration policy (see the header): widens a registration's `scope` to every MCP scope.
 * oidc-provider reads an already consumed request body from `req.body`.
 */
async function widenRegisteredScope(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    req.body = text; // let oidc-provider report it
    return;
  }
  if (body && typeof body.scope === 'string') {
    const scopes = new Set(body.scope.split(' ').filter(Boolean));
    const before = scopes.size;
    for (const scope of RESOURCE_SCOPES.split(' ')) scopes.add(scope);
    if (scopes.size !== before) log('registration scope widened:', JSON.stringify(body.scope), '->', JSON.stringify([...scopes].join(' ')));
    body.scope = [...scopes].join(' ');
  }
  req.body = body;
}

/** The path only: never log query strings, which carry codes and secrets. */
function pathOf(url) {
  return (url ?? '').split('?')[0];
}

const server = http.createServer();
server.listen(port, host, async () => {
  const issuer = `http://${host}:${server.address().port}`;
  let keys = [await newSigningKey()];
  let provider = makeProvider(issuer, keys);
  let callback = provider.callback();

  server.on('request', async (req, res) => {
    const path = pathOf(req.url);
    res.on('finish', () => log(req.method, path, res.statusCode));
    try {
      if (path.startsWith('/interaction/')) {
        const step = await interaction(provider, req, res);
        log('interaction', step);
        return;
      }
      if (path === '/_interop/rotate' && req.method === 'POST') {
        // New signing key first (used for signing), the old ones stay for verification.
        keys = [await newSigningKey(), ...keys];
        provider = makeProvider(issuer, keys);
        callback = provider.callback();
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ kid: keys[0].kid, kids: keys.map((k) => k.kid) }));
        return;
      }
      if (path === '/reg' && req.method === 'POST' && !strictRegisteredScope) {
        await widenRegisteredScope(req);
      }
      callback(req, res);
    } catch (error) {
      log('error', error?.stack ?? error);
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end('interop AS error');
      }
    }
  });

  process.stdout.write(`issuer: ${issuer}\n`);
});

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
