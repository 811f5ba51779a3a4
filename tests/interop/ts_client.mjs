// The official TypeScript MCP SDK (@modelcontextprotocol/sdk, pinned in package.json) against
// protected_server and the oidc-provider authorization server, with the SDK's own OAuth code
// (`auth()` behind StreamableHTTPClientTransport's `authProvider`) doing OAuth:
//
//   node22 ts_client.mjs --mcp http://127.0.0.1:PORT/mcp --issuer http://127.0.0.1:PORT2
//
// The app's part, as the SDK documents it: an OAuthClientProvider that stores what it is given,
// and, when a call fails with UnauthorizedError after the SDK sent the user to the authorization
// URL, `transport.finishAuth(code)` with the code from the redirect, then a retry. The "user" is
// a cookie-keeping fetch loop that follows the authorization server's redirects (login and
// consent are automatic there) and reads the code off the redirect to REDIRECT_URI.
//
// Scenarios: ts-sdk-flow, ts-sdk-metadata-protocol-version, ts-sdk-step-up.
// Prints PASS/FAIL lines; exit code 1 on any FAIL. Never prints a token (lengths only).

import { parseArgs } from 'node:util';
import { importDep } from './deps.mjs';

const { Client } = await importDep('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = await importDep('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { UnauthorizedError } = await importDep('@modelcontextprotocol/sdk/client/auth.js');

const DEFAULT_USER = 'interop-user';
const REDIRECT_URI = 'http://127.0.0.1:1/callback'; // never contacted: the redirect is read

const { values: args } = parseArgs({
  options: {
    mcp: { type: 'string' },
    issuer: { type: 'string' },
    // The `sub` the authorization server's tokens carry, and the prefix of the scenario names.
    user: { type: 'string', default: DEFAULT_USER },
    label: { type: 'string', default: 'ts-sdk' },
  },
});
if (!args.mcp || !args.issuer) {
  console.error('usage: ts_client.mjs --mcp <url> --issuer <url>');
  process.exit(2);
}

let passed = 0;
let failed = 0;
function oneLine(text) {
  return String(text).split(/\s+/).join(' ').slice(0, 600);
}
async function run(name, scenario) {
  try {
    const note = await scenario();
    passed += 1;
    console.log(`PASS ${name}${note ? ` (${note})` : ''}`);
  } catch (error) {
    failed += 1;
    console.error(error?.stack ?? error);
    console.log(`FAIL ${name}: ${oneLine(`${error?.constructor?.name ?? 'Error'}: ${error?.message ?? error}`)}`);
  }
}

function jwtParts(token) {
  const [header, payload] = token.split('.').slice(0, 2).map((part) => JSON.parse(Buffer.from(part, 'base64url')));
  return { header, payload };
}

// ---- what the SDK does on the wire ----------------------------------------------------------
const exchanges = [];
function rpcMethod(init) {
  try {
    const body = JSON.parse(init?.body);
    return body.method ?? 'response';
  } catch {
    return undefined;
  }
}
async function recordingFetch(input, init) {
  const request = new Request(input, init);
  const response = await fetch(input, init);
  const url = new URL(request.url);
  exchanges.push({
    method: request.method,
    url: url.href,
    path: url.pathname,
    status: response.status,
    protocolVersion: request.headers.get('mcp-protocol-version'),
    authorized: request.headers.has('authorization'),
    rpc: url.pathname.endsWith('/mcp') && request.method === 'POST' ? rpcMethod(init) : undefined,
  });
  return response;
}
const show = (e) => `${e.method} ${e.path}${e.rpc ? ` [${e.rpc}]` : ''} ${e.status}`;

// ---- the headless user agent ----------------------------------------------------------------
async function followAuthorization(startUrl) {
  const cookies = new Map();
  let url = startUrl;
  for (let i = 0; i < 12; i += 1) {
    const response = await fetch(url, {
      redirect: 'manual',
      headers: { cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') },
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      cookies.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
    const location = response.headers.get('location');
    if (!location || response.status < 300 || response.status > 399) {
      const text = (await response.text()).replace(/<(style|script)[^>]*>[\s\S]*?<\/\1>/g, ' ').replace(/<[^>]+>/g, ' ');
      throw new Error(`authorization stopped at ${new URL(url).pathname} with HTTP ${response.status}: ${oneLine(text).slice(0, 300)}`);
    }
    const next = new URL(location, url);
    if (next.href.startsWith(REDIRECT_URI)) return Object.fromEntries(next.searchParams);
    url = next.href;
  }
  throw new Error('too many redirects during authorization');
}

// ---- the app's OAuthClientProvider ----------------------------------------------------------
class HeadlessProvider {
  constructor() {
    this.stored = {};
    this.authorizationUrls = [];
    this.pending = undefined;
  }
  get redirectUrl() {
    return REDIRECT_URI;
  }
  get clientMetadata() {
    return {
      client_name: 'mcp-server-auth interop (typescript sdk)',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      application_type: 'native',
    };
  }
  clientInformation() {
    return this.stored.client;
  }
  saveClientInformation(info) {
    this.stored.client = info;
  }
  tokens() {
    return this.stored.tokens;
  }
  saveTokens(tokens) {
    this.stored.tokens = tokens;
  }
  saveCodeVerifier(verifier) {
    this.stored.verifier = verifier;
  }
  codeVerifier() {
    return this.stored.verifier;
  }
  async redirectToAuthorization(url) {
    this.authorizationUrls.push(url.href);
    this.pending = await followAuthorization(url.href);
  }
  /** The code the "user" brought back; the app hands it to transport.finishAuth. */
  takeCode() {
    const result = this.pending;
    this.pending = undefined;
    if (!result) throw new Error('UnauthorizedError without a pending authorization');
    if (!result.code) throw new Error(`authorization failed: ${result.error}: ${result.error_description}`);
    return result.code;
  }
}

const provider = new HeadlessProvider();
const newTransport = () => new StreamableHTTPClientTransport(new URL(args.mcp), { authProvider: provider, fetch: recordingFetch });
let client;
let transport;

/** Runs `action`; on UnauthorizedError completes the authorization the SDK started, once, and retries. */
async function withAuthorization(action, onRetry) {
  try {
    return await action();
  } catch (error) {
    if (!(error instanceof UnauthorizedError)) throw error;
    await transport.finishAuth(provider.takeCode());
    if (onRetry) await onRetry();
    return action();
  }
}

await run(`${args.label}-flow`, async () => {
  transport = newTransport();
  client = new Client({ name: 'mcp-server-auth-interop', version: '0.0.0' });
  await withAuthorization(
    () => client.connect(transport),
    async () => {
      // The documented pattern: a fresh transport once the tokens are saved.
      transport = newTransport();
      client = new Client({ name: 'mcp-server-auth-interop', version: '0.0.0' });
    },
  );
  const tools = await client.listTools();
  const names = tools.tools.map((t) => t.name).sort();
  if (!names.includes('whoami')) throw new Error(`tools/list has no whoami: ${names}`);
  const result = await client.callTool({ name: 'whoami', arguments: {} });
  if (result.isError) throw new Error(`whoami failed: ${JSON.stringify(result.content)}`);
  const identity = JSON.parse(result.content[0].text);

  const sequence = exchanges.map(show);
  console.error(`  ts-sdk requests: ${sequence.join(', ')}`);
  const steps = [];
  const expect = (what, predicate) => {
    if (!exchanges.some(predicate)) throw new Error(`no ${what} in ${sequence.join(', ')}`);
    steps.push(what);
  };
  expect('401', (e) => e.path.endsWith('/mcp') && e.status === 401 && !e.authorized);
  expect('PRM', (e) => e.path.includes('/.well-known/oauth-protected-resource') && e.status === 200);
  expect('AS metadata', (e) => e.path.startsWith('/.well-known/') && e.url.startsWith(args.issuer) && e.status === 200);
  expect('registration', (e) => e.method === 'POST' && e.url.startsWith(args.issuer) && e.status === 201);
  if (provider.authorizationUrls.length !== 1) throw new Error(`${provider.authorizationUrls.length} authorizations, want 1`);
  const query = new URL(provider.authorizationUrls[0]).searchParams;
  if (query.get('code_challenge_method') !== 'S256' || !query.get('code_challenge')) throw new Error('authorization without PKCE S256');
  if (query.get('resource') !== args.mcp) throw new Error(`authorization resource=${query.get('resource')}, want ${args.mcp}`);
  steps.push(`PKCE+resource scope='${query.get('scope')}'`);
  expect('token', (e) => e.method === 'POST' && e.url.startsWith(args.issuer) && e.status === 200);
  expect('authorized MCP call', (e) => e.path.endsWith('/mcp') && e.status === 200 && e.authorized);

  const token = provider.stored.tokens.access_token;
  const { header, payload } = jwtParts(token);
  if (header.typ !== 'at+jwt' || payload.aud !== args.mcp || payload.iss !== args.issuer) {
    throw new Error(`token typ=${header.typ} aud=${payload.aud} iss=${payload.iss}`);
  }
  if (identity.sub !== args.user) throw new Error(`whoami sub=${identity.sub}, want ${args.user}`);
  return `${steps.join(' → ')} → tools/list (${names.length} tools) → whoami sub=${identity.sub}; token ${token.length} chars, scope='${payload.scope}'`;
});

await run(`${args.label}-metadata-protocol-version`, async () => {
  const prm = exchanges.filter((e) => e.path.includes('/.well-known/oauth-protected-resource'));
  if (!prm.length) throw new Error('the SDK fetched no protected resource metadata');
  const withHeader = prm.filter((e) => e.protocolVersion);
  if (!withHeader.length) throw new Error('the SDK sent no MCP-Protocol-Version on metadata requests (nothing to prove)');
  const bad = withHeader.filter((e) => e.status !== 200);
  if (bad.length) throw new Error(`metadata refused: ${bad.map(show).join(', ')}`);
  return `PRM with MCP-Protocol-Version ${withHeader[0].protocolVersion} → 200`;
});

// Step-up. What the SDK does by itself is recorded in the PASS note. Known bug
// (typescript-sdk issue #2255, open): holding a refresh token, the SDK answers 403
// insufficient_scope by *refreshing* (no scope can be added that way, RFC 6749 §6), gets the
// same scopes back, retries, gets the same 403 and gives up with "Server returned 403 after
// trying upscoping". The transport's loop guard stays armed (it resets only on a success), so the
// same transport refuses every retry the same way. Workaround, in the app: on that error, forget
// the refresh token, connect a new transport and retry; the SDK then starts a new authorization
// for the challenged scope.
await run(`${args.label}-step-up`, async () => {
  if (!client) throw new Error('not run: ts-sdk-flow did not connect');
  const before = exchanges.length;
  const authorizations = provider.authorizationUrls.length;
  const notes = [];
  const callAdmin = () =>
    withAuthorization(
      () => client.callTool({ name: 'admin_reset', arguments: {} }),
      async () => notes.push('SDK started a new authorization, app finished it (finishAuth) and retried'),
    );
  let result;
  try {
    try {
      result = await callAdmin();
      notes.unshift('SDK alone: completed');
    } catch (error) {
      if (!/403 after trying upscoping/.test(error?.message ?? '')) throw error;
      const refreshed = exchanges.slice(before).some((e) => e.method === 'POST' && e.url.startsWith(args.issuer));
      notes.push(
        `SDK alone: dead end (${refreshed ? 'refreshed the token instead of re-authorizing, ' : ''}` +
          `"${error.message.replace(/^.*?: /, '')}"; typescript-sdk#2255)`,
      );
      if (!provider.stored.tokens?.refresh_token) throw error;
      const { refresh_token: _dropped, ...withoutRefresh } = provider.stored.tokens;
      provider.stored.tokens = withoutRefresh;
      transport = newTransport();
      client = new Client({ name: 'mcp-server-auth-interop', version: '0.0.0' });
      await client.connect(transport);
      notes.push('workaround: app dropped the refresh token, reconnected and retried');
      result = await callAdmin();
    }
  } finally {
    console.error(`  ts-sdk step-up requests: ${exchanges.slice(before).map(show).join(', ')}`);
  }
  const seen = exchanges.slice(before);
  if (!seen.some((e) => e.path.endsWith('/mcp') && e.status === 403)) throw new Error(`no 403 from admin_reset: ${seen.map(show)}`);
  if (provider.authorizationUrls.length === authorizations) throw new Error('no re-authorization after 403 insufficient_scope');
  const asked = new URL(provider.authorizationUrls.at(-1)).searchParams.get('scope');
  if (result.isError) throw new Error(`admin_reset failed: ${JSON.stringify(result.content)}`);
  if (!result.content[0].text.includes('reset done')) throw new Error(`admin_reset answered ${result.content[0].text}`);
  const { payload } = jwtParts(provider.stored.tokens.access_token);
  return `403 → ${notes.join('; ')}; re-authorization asked scope='${asked}' → 200; token scope='${payload.scope}'`;
});

await client?.close().catch(() => {});
process.exit(failed ? 1 : 0);
