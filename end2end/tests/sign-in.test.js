// The authorization code flow through a real browser against the release binary.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { USER, withTessera } from '../support/fixture.js';
import { LOGIN_PATH, answerConsent, rpResult, signIn, startAtRp } from '../support/flows.js';

const T = { timeout: 120_000 };

describe('sign-in through the relying party', () => {
  for (const js of [true, false]) {
    const mode = js ? 'with JavaScript' : 'without JavaScript';
    // Cover both client authentication methods at the token endpoint.
    const auth = js ? 'basic' : 'post';

    test(`${mode}: sign in, allow consent, RP receives ID token and userinfo (client_secret_${auth})`, T, () =>
      withTessera(`sign-in ${mode}`, { javaScriptEnabled: js }, async ({ page, rp }) => {
        await startAtRp(page, rp, { auth });
        await signIn(page, { email: USER.email, password: USER.password, js });
        await answerConsent(page, { js, decision: 'Allow' });
        const result = await rpResult(page, rp);
        assert.equal(result.error, null, `RP reported an error: ${result.error}\n${result.detail}`);
        assert.equal(result.email, USER.email);
        assert.match(result.sub ?? '', /\S/, 'sub is empty');
        assert.equal(result.auth, auth);
        assert.ok(result.body.includes(USER.email));
      }));

    test(`${mode}: a wrong password shows an error and stays on the sign-in page`, T, () =>
      withTessera(`wrong password ${mode}`, { javaScriptEnabled: js }, async ({ page, rp }) => {
        await startAtRp(page, rp);
        await signIn(page, { email: USER.email, password: 'not the password', js });
        await page.getByText('Incorrect email or password').first().waitFor({ state: 'visible' });
        assert.equal(new URL(page.url()).pathname, LOGIN_PATH);
      }));
  }

  test('denying consent returns access_denied to the RP', T, () =>
    withTessera('deny consent', { javaScriptEnabled: true }, async ({ page, rp }) => {
      await startAtRp(page, rp);
      await signIn(page, { email: USER.email, password: USER.password, js: true });
      await answerConsent(page, { js: true, decision: 'Deny' });
      const result = await rpResult(page, rp);
      assert.equal(result.url.searchParams.get('error'), 'access_denied', `callback URL: ${result.url}`);
      assert.equal(result.error, 'access_denied', `RP page: ${result.body}`);
      assert.equal(result.email, null);
    }));
});
