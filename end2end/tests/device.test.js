// The device authorization grant (RFC 8628) with a real browser: openid-client plays a TV that
// polls while a person opens the verification link, signs in and allows it, with JavaScript on
// and off.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as client from 'openid-client';
import { USER, withTessera } from '../support/fixture.js';
import { settle, signIn } from '../support/flows.js';
import { runCli } from '../support/server.js';

const T = { timeout: 120_000 };
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

describe('connecting a device', () => {
  for (const js of [true, false]) {
    const mode = js ? 'with JavaScript' : 'without JavaScript';
    test(`${mode}: the person enters the code, signs in and allows; the device gets tokens`, T, () =>
      withTessera(`device ${mode}`, { javaScriptEnabled: js }, async ({ page, tessera }) => {
        await runCli(['client', 'create', '--tenant', 'default', '--client-id', 'e2e-tv',
          '--name', 'Living Room TV', '--public', '--grant', DEVICE_GRANT], tessera.env);
        const config = await client.discovery(new URL(tessera.issuer), 'e2e-tv', undefined,
          client.None(), { execute: [client.allowInsecureRequests] });
        const started = await client.initiateDeviceAuthorization(config, { scope: 'openid email' });
        assert.match(started.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
        const polling = client.pollDeviceAuthorizationGrant(config, started);

        await page.goto(started.verification_uri_complete);
        await settle(page, js);
        await page.getByText(started.user_code).first().waitFor({ state: 'visible' });
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await signIn(page, { email: USER.email, password: USER.password, js });
        await page.getByText('Living Room TV on your device asks to:').waitFor({ state: 'visible' });
        await settle(page, js);
        assert.ok(await page.getByText(started.user_code).first().isVisible(), 'the code is shown to compare');
        await page.getByRole('button', { name: 'Allow', exact: true }).click();
        await page.getByText('Your device is connected').waitFor({ state: 'visible' });

        const tokens = await polling;
        assert.ok(tokens.access_token, 'an access token');
        assert.equal(tokens.claims()?.email, USER.email, 'the ID token names the person');
      }));
  }

  test('a wrong code is refused with a clear message', T, () =>
    withTessera('device wrong code', { javaScriptEnabled: false }, async ({ page, tessera }) => {
      await page.goto(`${tessera.issuer}/device`);
      await page.getByLabel('Enter the code shown on your device').fill('BCDF-GHJK');
      await page.getByRole('button', { name: 'Continue', exact: true }).click();
      await page.getByText('That code is not valid or has expired').waitFor({ state: 'visible' });
    }));
});
