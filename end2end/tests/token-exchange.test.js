// Token exchange (RFC 8693) and client keys at a URL (RFC 7591 §2 jwks_uri) with openid-client
// as both applications: a person signs in to a web app whose access token is for the orders
// API; the orders service, authenticating with private_key_jwt by a key Tessera fetches from
// its jwks_uri, exchanges that token for one to the billing API acting for the person.
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, test } from 'node:test';
import * as client from 'openid-client';
import { USER, withTessera } from '../support/fixture.js';
import { answerConsent, signIn } from '../support/flows.js';
import { runCli } from '../support/server.js';

const T = { timeout: 120_000 };
const ORDERS = 'https://orders.example.com/';
const BILLING = 'https://billing.example.com/';
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';

// The key server is on loopback: Tessera's fetches of client URLs may go there in this test.
process.env.TESSERA_FETCH_ALLOW_PRIVATE_NETWORKS = 'true';

/** Serves `jwks` at /jwks.json on a free loopback port; counts the fetches. */
async function keyServer(jwks) {
  const served = { fetches: 0 };
  const server = http.createServer((req, res) => {
    if (req.url !== '/jwks.json') { res.writeHead(404).end(); return; }
    served.fetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  served.url = `http://127.0.0.1:${server.address().port}/jwks.json`;
  served.close = () => new Promise((resolve) => server.close(resolve));
  return served;
}

const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());

describe('a service acting for a person', () => {
  test('exchanges the person\'s token with a key Tessera fetched from its jwks_uri', T, () =>
    withTessera('token exchange', { javaScriptEnabled: false }, async ({ page, tessera, rp }) => {
      const { privateKey, publicKey } = await crypto.subtle.generateKey(
        { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
      const jwk = { ...(await crypto.subtle.exportKey('jwk', publicKey)), kid: 'orders-1', alg: 'ES256', use: 'sig' };
      delete jwk.key_ops;
      delete jwk.ext;
      const keys = await keyServer({ keys: [jwk] });
      try {
        await runCli(['client', 'create', '--tenant', 'default', '--client-id', 'orders',
          '--name', 'Orders', '--grant', EXCHANGE, '--resource', ORDERS, '--jwks-uri', keys.url,
          '--exchange-audience', BILLING, '--exchange-scope', 'billing:read'], tessera.env);
        const redirectUri = `${rp.baseUrl}/callback`;
        const made = await runCli(['client', 'create', '--tenant', 'default', '--client-id', 'e2e-shop',
          '--name', 'Shop', '--redirect-uri', redirectUri, '--scope', 'openid',
          '--scope', 'billing:read', '--resource', ORDERS], tessera.env);
        const secret = made.match(/^\s*client_secret:\s*(\S+)\s*$/m)[1];

        // The person signs in to the shop; its access token is for the orders API.
        const shop = await client.discovery(new URL(tessera.issuer), 'e2e-shop', secret,
          undefined, { execute: [client.allowInsecureRequests] });
        const verifier = client.randomPKCECodeVerifier();
        const state = client.randomState();
        const target = client.buildAuthorizationUrl(shop, {
          redirect_uri: redirectUri,
          scope: 'openid billing:read',
          resource: ORDERS,
          code_challenge: await client.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state,
        });
        await page.goto(target.href);
        await signIn(page, { email: USER.email, password: USER.password, js: false });
        await answerConsent(page, { js: false, decision: 'Allow', app: 'Shop' });
        await page.waitForURL((url) => url.href.startsWith(redirectUri));
        const signedIn = await client.authorizationCodeGrant(shop, new URL(page.url()), {
          pkceCodeVerifier: verifier,
          expectedState: state,
        });
        const person = claims(signedIn.access_token);
        assert.equal(person.aud, ORDERS);

        // The orders service exchanges it, authenticating with its key (private_key_jwt).
        const orders = await client.discovery(new URL(tessera.issuer), 'orders', undefined,
          client.PrivateKeyJwt({ key: privateKey, kid: 'orders-1' }),
          { execute: [client.allowInsecureRequests] });
        const exchanged = await client.genericGrantRequest(orders, EXCHANGE, {
          subject_token: signedIn.access_token,
          subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
          audience: BILLING,
          scope: 'billing:read',
        });
        const acting = claims(exchanged.access_token);
        assert.equal(acting.sub, person.sub, 'for the person');
        assert.equal(acting.aud, BILLING);
        assert.equal(acting.act.sub, 'orders', 'the service is the actor');
        assert.equal(acting.scope, 'billing:read');
        assert.ok(keys.fetches >= 1, 'the key came from the jwks_uri');

        // Outside its policy: refused.
        await assert.rejects(
          client.genericGrantRequest(orders, EXCHANGE, {
            subject_token: signedIn.access_token,
            subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
            audience: 'https://payroll.example.com/',
          }),
          (e) => e.error === 'invalid_target',
        );
      } finally {
        await keys.close();
      }
    }));
});
