// DPoP (RFC 9449) with openid-client as the application: a single-page app registered to use
// DPoP with the server's nonces signs a person in through the browser. Its tokens are bound to
// its key: userinfo and the refresh answer to that key, and not to the same tokens without it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as client from 'openid-client';
import { USER, withTessera } from '../support/fixture.js';
import { answerConsent, signIn } from '../support/flows.js';
import { runCli } from '../support/server.js';

const T = { timeout: 120_000 };

describe('an application using DPoP', () => {
  test('signs in, reads userinfo and refreshes with its key; without the key its tokens are refused', T, () =>
    withTessera('dpop', { javaScriptEnabled: true }, async ({ page, tessera, rp }) => {
      const redirectUri = `${rp.baseUrl}/callback`;
      await runCli(['client', 'create', '--tenant', 'default', '--client-id', 'e2e-spa',
        '--name', 'DPoP App', '--public', '--redirect-uri', redirectUri,
        '--grant', 'authorization_code', '--grant', 'refresh_token',
        '--scope', 'openid', '--scope', 'email', '--scope', 'offline_access',
        '--require-dpop', '--require-dpop-nonce'], tessera.env);
      const config = await client.discovery(new URL(tessera.issuer), 'e2e-spa', undefined,
        client.None(), { execute: [client.allowInsecureRequests] });
      assert.ok(config.serverMetadata().dpop_signing_alg_values_supported.includes('ES256'));
      const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));

      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const target = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid email offline_access',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
      });
      await page.goto(target.href);
      await signIn(page, { email: USER.email, password: USER.password, js: true });
      await answerConsent(page, { js: true, decision: 'Allow', app: 'DPoP App' });
      await page.waitForURL((url) => url.href.startsWith(redirectUri));

      // The first proof has no nonce: openid-client takes the one the server answers with
      // (use_dpop_nonce) and tries again.
      const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), {
        pkceCodeVerifier: verifier,
        expectedState: state,
      }, undefined, { DPoP });
      assert.equal(tokens.token_type, 'dpop');
      const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims().sub, { DPoP });
      assert.equal(info.email, USER.email);

      // The same token without a proof, as a bearer token: refused.
      const bearer = await fetch(config.serverMetadata().userinfo_endpoint, {
        headers: { authorization: `Bearer ${tokens.access_token}` },
      });
      assert.equal(bearer.status, 401);
      assert.match(bearer.headers.get('www-authenticate') ?? '', /^DPoP /);

      // Another key cannot refresh; the holder of the key can.
      const stranger = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
      await assert.rejects(
        client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP: stranger }),
        (e) => e.error === 'invalid_grant',
      );
      const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
      assert.equal(refreshed.token_type, 'dpop');
      const again = await client.fetchUserInfo(config, refreshed.access_token, tokens.claims().sub, { DPoP });
      assert.equal(again.email, USER.email);
    }));
});
