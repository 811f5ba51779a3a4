// A real browser on the development authorization server's consent page: headless Chromium
// (the Debian package, driven by playwright-core) against the quickstart running with its
// consent page on.
//
//   node22 browser_consent.mjs --mcp http://127.0.0.1:PORT/mcp --screenshot <file.png>
//
// The script is the OAuth client: it finds the authorization server from the MCP server's 401
// and metadata, registers, listens on a loopback callback, and builds the authorization URL
// (PKCE S256, `resource`). The browser opens it, the page must name the client and each scope,
// and a button is clicked:
//
//   browser-consent-allow     Allow → the callback receives a code → token → tools/call whoami
//   browser-consent-deny      Deny → the callback receives error=access_denied
//   browser-consent-step-up   admin_reset with the first token → 403 insufficient_scope → the
//                             page lists mcp:admin → Allow → admin_reset → 200
//
// The first consent page is saved as a PNG (--screenshot) and its path printed.
// Prints PASS/FAIL lines; exit code 1 on any FAIL. Never prints a token or code (lengths only).

import crypto from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { importDep } from './deps.mjs';

const { chromium } = await importDep('playwright-core');

const { values: args } = parseArgs({
  options: {
    mcp: { type: 'string' },
    screenshot: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
if (!args.mcp || !args.screenshot) {
  console.error('usage: browser_consent.mjs --mcp <url> --screenshot <file.png>');
  process.exit(2);
}

const CLIENT_NAME = 'Browser Consent Test';
let passed = 0;
let failed = 0;
async function run(name, scenario) {
  let timer;
  try {
    // A hung browser is a FAIL with a reason, not the suite's timeout.
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out after 60 s')), 60000);
    });
    const note = await Promise.race([scenario(), timeout]);
    clearTimeout(timer);
    passed += 1;
    console.log(`PASS ${name}${note ? ` (${note})` : ''}`);
  } catch (error) {
    clearTimeout(timer);
    failed += 1;
    console.error(error?.stack ?? error);
    console.log(`FAIL ${name}: ${String(error?.message ?? error).split(/\s+/).join(' ').slice(0, 500)}`);
  }
}

// ---- the loopback callback: where the browser is sent back -----------------------------------
const callbacks = [];
let waiting;
const callbackServer = http.createServer((request, response) => {
  const url = new URL(request.url, 'http://127.0.0.1');
  if (url.pathname !== '/callback') {
    response.writeHead(404).end();
    return;
  }
  response.writeHead(200, { 'content-type': 'text/plain' }).end('You can close this window.');
  const params = Object.fromEntries(url.searchParams);
  if (waiting) {
    waiting(params);
    waiting = undefined;
  } else {
    callbacks.push(params);
  }
});
await new Promise((resolve) => callbackServer.listen(0, '127.0.0.1', resolve));
const redirectUri = `http://127.0.0.1:${callbackServer.address().port}/callback`;
function nextCallback(ms = 15000) {
  if (callbacks.length) return Promise.resolve(callbacks.shift());
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the callback was never called')), ms);
    waiting = (params) => {
      clearTimeout(timer);
      resolve(params);
    };
  });
}

// ---- discovery and registration, as an MCP client does them ----------------------------------
async function json(response, what) {
  if (!response.ok) throw new Error(`${what}: HTTP ${response.status}`);
  return response.json();
}
const unauthorized = await fetch(args.mcp, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
const challenge = unauthorized.headers.get('www-authenticate') ?? '';
const prmUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
if (unauthorized.status !== 401 || !prmUrl) throw new Error(`no 401 with resource_metadata from ${args.mcp}`);
const prm = await json(await fetch(prmUrl), 'protected resource metadata');
const issuer = prm.authorization_servers[0];
const asMetadata = await json(await fetch(`${issuer}/.well-known/oauth-authorization-server`), 'AS metadata');
const registration = await fetch(asMetadata.registration_endpoint, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ client_name: CLIENT_NAME, redirect_uris: [redirectUri], token_endpoint_auth_method: 'none' }),
});
const client = await json(registration, 'registration');

function authorizationUrl(scope) {
  const verifier = crypto.randomBytes(48).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  const state = crypto.randomBytes(12).toString('base64url');
  const url = new URL(asMetadata.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: redirectUri,
    scope,
    state,
    resource: prm.resource,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  return { url: url.href, verifier, state };
}

async function exchange(code, verifier) {
  const response = await fetch(asMetadata.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: client.client_id,
      code_verifier: verifier,
      resource: prm.resource,
    }),
  });
  return json(response, 'token');
}

async function callTool(token, name) {
  return fetch(args.mcp, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-protocol-version': '2025-06-18',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {} } }),
  });
}

// ---- the browser ------------------------------------------------------------------------------
const profile = mkdtempSync(join(tmpdir(), 'consent-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: args.chromium,
  headless: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

// One tab for every scenario, never closed: with the new headless mode, closing the last tab
// can end the browser.
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(15000);

/** Opens the consent page for `scope`, checks what it shows, clicks `button`; the callback's parameters. */
async function consent(scope, button, screenshot) {
  const request = authorizationUrl(scope);
  const response = await page.goto(request.url);
  if (response.status() !== 200) throw new Error(`consent page: HTTP ${response.status()}`);
  const banner = await page.textContent('#dev-banner');
  if (!/never use in production/i.test(banner ?? '')) throw new Error('no development-only banner on the consent page');
  const name = await page.textContent('#client-name');
  if (name !== CLIENT_NAME) throw new Error(`the page names the client ${JSON.stringify(name)}`);
  const shown = await page.$$eval('#scopes code', (nodes) => nodes.map((n) => n.textContent));
  if (shown.join(' ') !== scope) throw new Error(`the page lists scopes ${JSON.stringify(shown)}, asked ${scope}`);
  if (screenshot) {
    mkdirSync(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    console.error(`consent page screenshot: ${screenshot}`);
  }
  const callback = nextCallback();
  await page.click(button);
  const params = await callback;
  if (params.state !== request.state) throw new Error('the callback state differs from the request');
  if (params.iss !== issuer) throw new Error(`the callback iss is ${params.iss}, want ${issuer}`);
  return { params, verifier: request.verifier, shown };
}

let firstToken;
await run('browser-consent-allow', async () => {
  const { params, verifier, shown } = await consent('mcp:tools', '#allow', args.screenshot);
  if (!params.code) throw new Error(`no code: ${params.error}`);
  const tokens = await exchange(params.code, verifier);
  firstToken = tokens.access_token;
  const response = await callTool(firstToken, 'whoami');
  if (response.status !== 200) throw new Error(`whoami: HTTP ${response.status}`);
  const identity = JSON.parse((await response.json()).result.content[0].text);
  if (identity.client_id !== client.client_id || identity.sub !== 'dev-user') {
    throw new Error(`whoami: ${JSON.stringify(identity)}`);
  }
  return `page named "${CLIENT_NAME}" and ${shown.join(', ')}; screenshot ${args.screenshot}; Allow → code → token ${firstToken.length} chars → whoami sub=${identity.sub}`;
});

await run('browser-consent-deny', async () => {
  const { params } = await consent('mcp:tools', '#deny');
  if (params.error !== 'access_denied' || params.code) throw new Error(`callback got ${JSON.stringify(Object.keys(params))} error=${params.error}`);
  return 'Deny → callback error=access_denied, no code';
});

await run('browser-consent-step-up', async () => {
  if (!firstToken) throw new Error('not run: browser-consent-allow got no token');
  const denied = await callTool(firstToken, 'admin_reset');
  const header = denied.headers.get('www-authenticate') ?? '';
  if (denied.status !== 403 || !/error="insufficient_scope"/.test(header)) throw new Error(`admin_reset: HTTP ${denied.status}`);
  const scope = /scope="([^"]+)"/.exec(header)?.[1];
  if (!scope?.split(' ').includes('mcp:admin')) throw new Error(`challenge scope ${scope}`);
  const { params, verifier, shown } = await consent(scope, '#allow');
  const tokens = await exchange(params.code, verifier);
  const allowed = await callTool(tokens.access_token, 'admin_reset');
  if (allowed.status !== 200) throw new Error(`admin_reset after step-up: HTTP ${allowed.status}`);
  const text = (await allowed.json()).result.content[0].text;
  if (!text.includes('reset done')) throw new Error(`admin_reset answered ${text}`);
  return `403 scope="${scope}" → consent page listed ${shown.join(', ')} → Allow → admin_reset 200`;
});

await context.close().catch(() => {});
rmSync(profile, { recursive: true, force: true });
callbackServer.close();
process.exit(failed ? 1 : 0);
