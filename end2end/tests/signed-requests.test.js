// Signed authorization requests (JAR, RFC 9101) with openid-client as the application: a client
// registered with its public key and held to signing its requests sends the browser with a
// request object, signs in a person and authenticates at the token endpoint with the same key
// (private_key_jwt). An unsigned request from it is refused.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import * as client from 'openid-client';
import { USER, withTessera } from '../support/fixture.js';
import { answerConsent, signIn } from '../support/flows.js';
import { runCli } from '../support/server.js';

const T = { timeout: 120_000 };

describe('an application signing its requests', () => {
  test('signs in a person with a request object and private_key_jwt; its unsigned request is refused', T, () =>
    withTessera('signed requests', { javaScriptEnabled: false }, async ({ page, tessera, rp }) => {
      const redirectUri = `${rp.baseUrl}/callback`;
      const { privateKey, publicKey } = await crypto.subtle.generateKey(
        { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
      const jwk = { ...(await crypto.subtle.exportKey('jwk', publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
      delete jwk.key_ops;
      delete jwk.ext;
      const jwksFile = path.join(tessera.tmp, 'keys.json');
      await writeFile(jwksFile, JSON.stringify({ keys: [jwk] }));
      await runCli(['client', 'create', '--tenant', 'default', '--client-id', 'e2e-signer',
        '--name', 'Signing App', '--redirect-uri', redirectUri, '--jwks-file', jwksFile,
        '--scope', 'openid', '--scope', 'email', '--require-signed-request-object'], tessera.env);
      const key = { key: privateKey, kid: 'k1' };
      const config = await client.discovery(new URL(tessera.issuer), 'e2e-signer', undefined,
        client.PrivateKeyJwt(key), { execute: [client.allowInsecureRequests] });
      assert.equal(config.serverMetadata().request_parameter_supported, true);

      const verifier = client.randomPKCECodeVerifier();
      const state = client.randomState();
      const params = {
        redirect_uri: redirectUri,
        scope: 'openid email',
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
      };
      const unsigned = client.buildAuthorizationUrl(config, params);
      await page.goto(unsigned.href);
      await page.waitForURL((url) => url.href.startsWith(redirectUri));
      assert.equal(new URL(page.url()).searchParams.get('error'), 'invalid_request', 'an unsigned request');

      const signed = await client.buildAuthorizationUrlWithJAR(config, params, key);
      assert.ok(signed.searchParams.get('request'), 'the request travels signed');
      await page.goto(signed.href);
      await signIn(page, { email: USER.email, password: USER.password, js: false });
      await answerConsent(page, { js: false, decision: 'Allow', app: 'Signing App' });
      await page.waitForURL((url) => url.href.startsWith(redirectUri));
      const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), {
        pkceCodeVerifier: verifier,
        expectedState: state,
      });
      assert.equal(tokens.claims().email, USER.email);
    }));
});
