// Dynamic client registration (RFC 7591) with openid-client as the application: it registers
// itself with an initial access token made on the command line, signs a person in through the
// browser with the credentials it was given, and reads its registration back (RFC 7592).
// Without a token the registration is refused.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as client from 'openid-client';
import { USER, withTessera } from '../support/fixture.js';
import { answerConsent, signIn } from '../support/flows.js';
import { runCli } from '../support/server.js';

const T = { timeout: 120_000 };

describe('an application registering itself', () => {
  test('registers with an initial access token and signs a person in; without one it is refused', T, () =>
    withTessera('dynamic registration', { javaScriptEnabled: false }, async ({ page, tessera, rp }) => {
      const redirectUri = `${rp.baseUrl}/callback`;
      const made = await runCli(['client', 'initial-token', 'create', '--tenant', 'default',
        '--name', 'e2e partners', '--uses', '1', '--days', '1'], tessera.env);
      const initialAccessToken = made.match(/tsi_[A-Za-z0-9_-]{43}/)?.[0];
      assert.ok(initialAccessToken, `an initial access token in:\n${made}`);
      const metadata = {
        client_name: 'Self-registered App',
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        scope: 'openid email',
        token_endpoint_auth_method: 'client_secret_post',
      };
      const options = { execute: [client.allowInsecureRequests] };

      // Without a token: refused by the library's request, and 401 invalid_token on the wire.
      await assert.rejects(
        client.dynamicClientRegistration(new URL(tessera.issuer), metadata, undefined, options));
      const bare = await fetch(`${tessera.issuer}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(metadata),
      });
      assert.equal(bare.status, 401);
      assert.equal((await bare.json()).error, 'invalid_token');

      // The library authenticates with client_secret_post by default, as registered.
      const config = await client.dynamicClientRegistration(new URL(tessera.issuer), metadata,
        undefined, { ...options, initialAccessToken });
      const registered = config.clientMetadata();
      assert.ok(registered.client_id);
      assert.ok(registered.registration_access_token?.startsWith('tsr_'));

      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const target = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: 'openid email',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
      });
      await page.goto(target.href);
      await signIn(page, { email: USER.email, password: USER.password, js: false });
      // The consent page tells the person nobody at the organisation reviewed the application.
      await page.getByTestId('self-registered').waitFor({ state: 'visible' });
      await answerConsent(page, { js: false, decision: 'Allow', app: 'Self-registered App' });
      await page.waitForURL((url) => url.href.startsWith(redirectUri));
      const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
      assert.equal(tokens.claims().email, USER.email);

      // RFC 7592 §2.1: the registration, read back with its registration access token.
      const read = await fetch(registered.registration_client_uri, {
        headers: { authorization: `Bearer ${registered.registration_access_token}` },
      });
      assert.equal(read.status, 200);
      assert.equal((await read.json()).client_name, 'Self-registered App');
    }));
});
