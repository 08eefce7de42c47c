#!/usr/bin/env node
// Sign-in driver for bench/run.sh: walks Tessera's sign-in pages the way a browser without
// JavaScript does (as tests/common/mod.rs `Browser` does): /authorize, the login page, the
// e-mail and password form posts with their CSRF field, consent when asked, the redirect
// back with a code, and the code exchange at /token with PKCE S256. Cookies and redirects
// are handled here, by hand. Node 20, no npm packages.
//
//   node bench/signin.mjs --tokens N --out FILE [options]
//       One password sign-in (granting consent if asked), then N-1 more authorizations in
//       the same browser session (no password, no consent), each exchanged for tokens.
//       Writes N lines "refresh_token<TAB>access_token" to FILE: N independent refresh
//       token families.
//   node bench/signin.mjs --concurrency C --seconds S [options]
//       C simulated browsers, each doing whole sign-ins (fresh cookies, password, code
//       exchange) in a loop for S seconds; prints one JSON line:
//       {"signins":…,"errors":…,"per_second":…,"p50_ms":…,"p99_ms":…,"consents":…}
//
// Options (defaults in brackets):
//   --base URL          [http://127.0.0.1:3000]     --tenant SLUG   [default]
//   --client-id ID      [bench-web]                 --redirect-uri  [http://127.0.0.1:9/callback]
//   --email ADDRESS     [bench@example.com]         --scope         [openid profile email offline_access]
//   Secrets come from the environment: BENCH_CLIENT_SECRET and BENCH_PASSWORD.

import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';

function parseArgs(argv) {
  const opts = {
    base: 'http://127.0.0.1:3000',
    tenant: 'default',
    clientId: 'bench-web',
    redirectUri: 'http://127.0.0.1:9/callback',
    email: 'bench@example.com',
    scope: 'openid profile email offline_access',
    tokens: 0,
    out: '',
    concurrency: 0,
    seconds: 0,
  };
  const names = {
    '--base': 'base', '--tenant': 'tenant', '--client-id': 'clientId',
    '--redirect-uri': 'redirectUri', '--email': 'email', '--scope': 'scope',
    '--tokens': 'tokens', '--out': 'out', '--concurrency': 'concurrency', '--seconds': 'seconds',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log('usage: signin.mjs --tokens N --out FILE | --concurrency C --seconds S [--base URL --tenant SLUG --client-id ID --redirect-uri URI --email ADDR --scope S]\n'
        + 'BENCH_CLIENT_SECRET and BENCH_PASSWORD come from the environment.');
      process.exit(0);
    }
    const key = names[a];
    if (!key || i + 1 >= argv.length) fail(`unknown or incomplete option ${a} (see --help)`);
    const v = argv[++i];
    opts[key] = typeof opts[key] === 'number' ? Number(v) : v;
  }
  opts.secret = process.env.BENCH_CLIENT_SECRET || '';
  opts.password = process.env.BENCH_PASSWORD || '';
  if (!opts.secret || !opts.password) fail('set BENCH_CLIENT_SECRET and BENCH_PASSWORD');
  if (!(opts.tokens > 0) && !(opts.concurrency > 0 && opts.seconds > 0)) {
    fail('give --tokens N --out FILE, or --concurrency C --seconds S');
  }
  if (opts.tokens > 0 && !opts.out) fail('--tokens needs --out FILE');
  opts.base = opts.base.replace(/\/$/, '');
  opts.issuer = `${opts.base}/t/${opts.tenant}`;
  return opts;
}

function fail(message) {
  console.error(`signin.mjs: ${message}`);
  process.exit(2);
}

const b64url = (buf) => buf.toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|amp|quot|lt|gt|apos);/gi, (m, e) => {
    const l = e.toLowerCase();
    if (l === 'amp') return '&';
    if (l === 'quot') return '"';
    if (l === 'lt') return '<';
    if (l === 'gt') return '>';
    if (l === 'apos') return "'";
    if (l.startsWith('#x')) return String.fromCodePoint(parseInt(l.slice(2), 16));
    return String.fromCodePoint(parseInt(l.slice(1), 10));
  });
}

function attributes(tag) {
  const attrs = {};
  for (const m of tag.matchAll(/([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g)) {
    attrs[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

// The forms of a page: [{action, fields: {name: value} of its hidden inputs, html}].
function forms(html) {
  const out = [];
  for (const m of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const attrs = attributes(m[1]);
    const fields = {};
    for (const input of m[2].matchAll(/<input\b([^>]*)>/gi)) {
      const a = attributes(input[1]);
      if (a.type === 'hidden' && a.name) fields[a.name] = a.value ?? '';
    }
    out.push({ action: attrs.action || '', fields, html: m[2] });
  }
  return out;
}

// The form that has a field named `name` (an <input> or a <button>).
function formWith(html, name, what) {
  const found = forms(html).find((f) => new RegExp(`name="${name}"`).test(f.html));
  if (!found) throw new Error(`${what}: no form with a "${name}" field`);
  for (const k of ['tenant', 'flow', 'csrf']) {
    if (!(k in found.fields)) throw new Error(`${what}: the form has no hidden "${k}" field`);
  }
  if (!found.action) throw new Error(`${what}: the form has no action`);
  return found;
}

// A cookie-keeping browser without JavaScript that never follows redirects by itself.
class Browser {
  constructor(opts) {
    this.opts = opts;
    this.jar = new Map();
  }

  absolute(url) {
    return url.startsWith('/') ? this.opts.base + url : url;
  }

  async request(method, url, body) {
    const headers = { accept: 'text/html' };
    if (this.jar.size) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(this.absolute(url), {
      method, headers, body: body ? new URLSearchParams(body).toString() : undefined, redirect: 'manual',
    });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a)) || value === '';
      if (expired) this.jar.delete(name); else this.jar.set(name, value);
    }
    const text = await res.text();
    return { status: res.status, location: res.headers.get('location'), text, url: this.absolute(url) };
  }

  // GETs `url` and follows redirects while they stay on the server. Returns either
  // {left: URL} (a redirect away from the server, e.g. to the client's callback) or the
  // last response (a page).
  async go(res) {
    let hops = 0;
    while (res.status >= 300 && res.status < 400 && res.location) {
      const next = this.absolute(res.location);
      if (!next.startsWith(this.opts.base + '/')) return { left: next };
      if (++hops > 10) throw new Error('too many redirects');
      res = await this.request('GET', next);
    }
    return res;
  }

  async open(url) {
    return this.go(await this.request('GET', url));
  }

  // Posts a form to its action and follows where that leads.
  async submit(form, extra) {
    const res = await this.request('POST', form.action, { ...form.fields, ...extra });
    if (res.status >= 400) throw new Error(`POST ${form.action}: HTTP ${res.status}`);
    return this.go(res);
  }
}

function page(res, what) {
  if (res.left) throw new Error(`${what}: expected a page, went to ${res.left}`);
  if (res.status !== 200) throw new Error(`${what}: HTTP ${res.status} at ${res.url}`);
  return res.text;
}

function authRequest(opts) {
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const state = b64url(randomBytes(12));
  const params = new URLSearchParams({
    response_type: 'code',
    client_id: opts.clientId,
    redirect_uri: opts.redirectUri,
    scope: opts.scope,
    state,
    nonce: b64url(randomBytes(12)),
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  return { url: `${opts.issuer}/authorize?${params}`, verifier, state };
}

// The person's side: authorize, then the login pages and consent as they come. Returns the
// callback URL and whether consent was asked.
async function authorize(browser, opts, url) {
  let res = await browser.open(url);
  let consents = 0;
  for (let step = 0; step < 6 && !res.left; step++) {
    const html = page(res, 'sign-in');
    if (/name="decision"/.test(html)) {
      consents++;
      res = await browser.submit(formWith(html, 'decision', 'consent page'), { decision: 'allow' });
    } else if (/type="password"/.test(html)) {
      res = await browser.submit(formWith(html, 'password', 'password page'), { password: opts.password });
    } else if (/name="email"/.test(html)) {
      res = await browser.submit(formWith(html, 'email', 'login page'), { email: opts.email });
    } else {
      throw new Error(`unexpected page at ${res.url}: ${html.slice(0, 300)}`);
    }
  }
  if (!res.left) throw new Error('the sign-in did not come back to the client');
  return { callback: res.left, consents };
}

async function exchange(opts, callback, req) {
  if (!callback.startsWith(opts.redirectUri)) throw new Error(`redirected to ${callback}`);
  const q = new URL(callback).searchParams;
  if (q.get('error')) throw new Error(`authorization error: ${q.get('error')} ${q.get('error_description') || ''}`);
  if (q.get('state') !== req.state) throw new Error('state mismatch');
  const code = q.get('code');
  if (!code) throw new Error(`no code in ${callback}`);
  const res = await fetch(`${opts.issuer}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(opts.clientId)}:${encodeURIComponent(opts.secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code', code, redirect_uri: opts.redirectUri, code_verifier: req.verifier,
    }).toString(),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`token exchange: HTTP ${res.status}: ${text.slice(0, 300)}`);
  const body = JSON.parse(text);
  if (!body.access_token) throw new Error('token exchange: no access_token');
  return body;
}

async function signIn(browser, opts) {
  const req = authRequest(opts);
  const { callback, consents } = await authorize(browser, opts, req.url);
  const tokens = await exchange(opts, callback, req);
  return { tokens, consents };
}

async function produceTokens(opts) {
  const browser = new Browser(opts);
  const lines = [];
  const first = await signIn(browser, opts);
  if (!first.tokens.refresh_token) throw new Error('no refresh_token: is the refresh_token grant and offline_access allowed?');
  lines.push(`${first.tokens.refresh_token}\t${first.tokens.access_token}`);
  // The same browser session: straight back with a code, no password, no consent.
  const workers = Math.min(4, Math.max(1, opts.tokens - 1));
  let next = 1;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (next < opts.tokens) {
      next++;
      const { tokens } = await signIn(browser, opts);
      lines.push(`${tokens.refresh_token}\t${tokens.access_token}`);
    }
  }));
  writeFileSync(opts.out, lines.join('\n') + '\n', { mode: 0o600 });
  console.error(`signin.mjs: wrote ${lines.length} refresh and access tokens to ${opts.out}`
    + (first.consents ? ' (consent given on the first sign-in)' : ''));
}

async function loop(opts) {
  const latencies = [];
  const errors = new Map();
  let consents = 0;
  const start = performance.now();
  const end = start + opts.seconds * 1000;
  await Promise.all(Array.from({ length: opts.concurrency }, async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const r = await signIn(new Browser(opts), opts);
        consents += r.consents;
        latencies.push(performance.now() - t0);
      } catch (e) {
        const key = String(e.message).slice(0, 120);
        errors.set(key, (errors.get(key) || 0) + 1);
      }
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p) => (latencies.length ? latencies[Math.max(0, Math.ceil(p * latencies.length) - 1)] : null);
  const round = (x) => (x === null ? null : Math.round(x * 10) / 10);
  const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
  console.log(JSON.stringify({
    signins: latencies.length,
    errors: errorCount,
    seconds: round(elapsed),
    per_second: round(latencies.length / elapsed),
    p50_ms: round(pct(0.5)),
    p99_ms: round(pct(0.99)),
    consents,
    concurrency: opts.concurrency,
    error_kinds: Object.fromEntries(errors),
  }));
}

const opts = parseArgs(process.argv.slice(2));
try {
  if (opts.tokens > 0) await produceTokens(opts); else await loop(opts);
} catch (e) {
  console.error(`signin.mjs: ${e.message}`);
  process.exit(1);
}
