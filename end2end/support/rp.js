// A tiny OpenID Connect relying party built with openid-client v6 (panva).
// GET /login[?auth=basic|post] starts an authorization code flow with PKCE (S256),
// state and nonce; GET /callback exchanges the code, validates the ID token,
// calls userinfo and shows the result (or the error) as HTML.
import http from 'node:http';
import * as client from 'openid-client';

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

function page(title, body) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head>`
    + `<body><h1>${esc(title)}</h1>${body}</body></html>`;
}

export async function startRp({ issuer, clientId, clientSecret, port }) {
  const baseUrl = `http://127.0.0.1:${port}`;
  const redirectUri = `${baseUrl}/callback`;
  const discover = (auth) => client.discovery(
    new URL(issuer),
    clientId,
    { client_secret: clientSecret, redirect_uris: [redirectUri], response_types: ['code'] },
    auth,
    // Tessera runs on plain http on loopback in the tests.
    { execute: [client.allowInsecureRequests] },
  );
  const configs = {
    basic: await discover(client.ClientSecretBasic(clientSecret)),
    post: await discover(client.ClientSecretPost(clientSecret)),
  };

  const pending = new Map(); // state -> { verifier, nonce, auth }
  const log = [];
  const results = [];

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, baseUrl);
    log.push(`${req.method} ${url.pathname}${url.search}`);
    const send = (status, html, headers = {}) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
      res.end(html);
    };
    try {
      if (url.pathname === '/login') {
        const auth = url.searchParams.get('auth') === 'post' ? 'post' : 'basic';
        const verifier = client.randomPKCECodeVerifier();
        const state = client.randomState();
        const nonce = client.randomNonce();
        pending.set(state, { verifier, nonce, auth });
        const target = client.buildAuthorizationUrl(configs[auth], {
          redirect_uri: redirectUri,
          scope: 'openid profile email',
          code_challenge: await client.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state,
          nonce,
        });
        return send(302, '', { location: target.href });
      }
      if (url.pathname === '/callback') {
        const state = url.searchParams.get('state');
        const flow = state && pending.get(state);
        if (!flow) {
          return send(400, page('RP error', `<p id="error">unknown_state</p><pre id="query">${esc(url.search)}</pre>`));
        }
        pending.delete(state);
        const config = configs[flow.auth];
        let tokens;
        try {
          tokens = await client.authorizationCodeGrant(config, url, {
            pkceCodeVerifier: flow.verifier,
            expectedState: state,
            expectedNonce: flow.nonce,
            idTokenExpected: true,
          });
        } catch (e) {
          const code = e instanceof client.AuthorizationResponseError ? e.error : (e.code || e.name);
          const detail = `${e.name}: ${e.message}${e.cause ? `\ncause: ${JSON.stringify(e.cause, null, 2)}` : ''}`;
          results.push({ error: code, detail });
          return send(200, page('Sign-in failed', `<p id="error">${esc(code)}</p>`
            + `<p id="error-description">${esc(e.error_description || '')}</p>`
            + `<pre id="detail">${esc(detail)}</pre><pre id="query">${esc(url.search)}</pre>`));
        }
        const claims = tokens.claims();
        const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
        results.push({ claims, userinfo, auth: flow.auth });
        return send(200, page('Signed in', '<dl>'
          + `<dt>sub</dt><dd id="sub">${esc(claims.sub)}</dd>`
          + `<dt>email</dt><dd id="email">${esc(userinfo.email ?? '')}</dd>`
          + `<dt>name</dt><dd id="name">${esc(userinfo.name ?? '')}</dd>`
          + `<dt>client auth</dt><dd id="auth">${esc(flow.auth)}</dd>`
          + '</dl>'
          + `<pre id="id-token-claims">${esc(JSON.stringify(claims, null, 2))}</pre>`
          + `<pre id="userinfo">${esc(JSON.stringify(userinfo, null, 2))}</pre>`));
      }
      return send(404, page('Not found', ''));
    } catch (e) {
      const detail = `${e.name}: ${e.message}${e.cause ? `\ncause: ${JSON.stringify(e.cause, null, 2)}` : ''}`;
      results.push({ error: 'rp_exception', detail });
      log.push(`  -> exception ${detail}`);
      return send(500, page('RP exception', `<p id="error">rp_exception</p><pre id="detail">${esc(detail)}</pre>`));
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    baseUrl,
    configs,
    log,
    results,
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }),
  };
}
