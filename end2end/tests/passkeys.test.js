// Passkeys in a real browser, with Chrome's virtual authenticator (Chrome DevTools Protocol
// WebAuthn domain): a person adds a passkey on the account page, signs in with it instead of a
// password (from its button, and offered by the email field as autofill), and uses it as the
// second step after a password. A passkey that is not registered,
// and a copy of the registered one whose signature counter went backwards (a cloned
// authenticator), are refused.
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { USER, withTessera } from '../support/fixture.js';
import { answerConsent, rpResult, settle, signIn, startAtRp } from '../support/flows.js';

const T = { timeout: 120_000 };
const AUTHENTICATOR = {
  protocol: 'ctap2',
  transport: 'internal',
  hasResidentKey: true,
  hasUserVerification: true,
  isUserVerified: true,
  automaticPresenceSimulation: true,
};

async function virtualAuthenticator(cdp) {
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: AUTHENTICATOR });
  return authenticatorId;
}

// Signs in with a password on the account page and adds a passkey there; returns it as the
// authenticator holds it.
async function addPasskey(page, tessera, cdp, authenticator) {
  await page.goto(`${tessera.issuer}/account`);
  await settle(page, true);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await signIn(page, { email: USER.email, password: USER.password, js: true });
  await page.getByRole('heading', { name: 'Your account' }).waitFor({ state: 'visible' });
  await settle(page, true);
  await page.getByLabel('Name for the passkey').fill('Test laptop');
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.getByRole('heading', { name: 'Save your backup codes' }).waitFor({ state: 'visible' });
  await page.getByRole('link', { name: 'Continue' }).click();
  await page.getByText('Test laptop').first().waitFor({ state: 'visible' });
  const { credentials: [registered] } = await cdp.send('WebAuthn.getCredentials', { authenticatorId: authenticator });
  assert.ok(registered?.isResidentCredential, 'the passkey is discoverable');
  return registered;
}

async function passkeySignIn(page, rp) {
  await startAtRp(page, rp);
  await settle(page, true);
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
}

describe('passkeys', () => {
  test('add a passkey, sign in without a password, use it as a second step; wrong and cloned passkeys are refused', T, () =>
    withTessera('passkeys', { javaScriptEnabled: true, host: 'localhost' }, async ({ page, context, rp, tessera }) => {
      // A browser without passkey autofill: the button is the way in, and the page works as
      // before. (Chromium's virtual authenticator would answer the autofill request at once.)
      await context.addInitScript(() => {
        if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = async () => false;
      });
      const cdp = await context.newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      const authenticator = await virtualAuthenticator(cdp);

      const registered = await addPasskey(page, tessera, cdp, authenticator);

      // Passwordless: no email, no password.
      await context.clearCookies();
      await passkeySignIn(page, rp);
      await answerConsent(page, { js: true, decision: 'Allow' });
      const result = await rpResult(page, rp);
      assert.equal(result.error, null, `RP reported an error: ${result.error}\n${result.detail}`);
      assert.equal(result.email, USER.email);
      const claims = rp.results.at(-1).claims;
      assert.ok(claims.amr.includes('mfa') && claims.amr.includes('hwk'), `amr ${claims.amr}`);
      assert.ok(!claims.amr.includes('pwd'), 'no password was used');
      assert.equal(claims.acr, 'urn:tessera:acr:mfa');

      // As the second step after a password.
      await context.clearCookies();
      await startAtRp(page, rp);
      await signIn(page, { email: USER.email, password: USER.password, js: true });
      await page.getByRole('button', { name: 'Use your passkey' }).click();
      const second = await rpResult(page, rp);
      assert.equal(second.email, USER.email);
      assert.deepEqual(rp.results.at(-1).claims.amr, ['pwd', 'hwk', 'mfa']);

      // A passkey this account never registered is refused.
      await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: authenticator });
      const stranger = await virtualAuthenticator(cdp);
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await cdp.send('WebAuthn.addCredential', {
        authenticatorId: stranger,
        credential: {
          credentialId: randomBytes(16).toString('base64'),
          isResidentCredential: true,
          rpId: 'localhost',
          privateKey: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
          userHandle: registered.userHandle,
          signCount: 100,
        },
      });
      await context.clearCookies();
      await passkeySignIn(page, rp);
      await page.getByText('That passkey was not accepted').waitFor({ state: 'visible' });

      // A clone of the registered passkey, whose counter is behind the original's, is refused.
      await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: stranger });
      const clone = await virtualAuthenticator(cdp);
      await cdp.send('WebAuthn.addCredential', {
        authenticatorId: clone,
        credential: { ...registered, signCount: 0 },
      });
      await context.clearCookies();
      await passkeySignIn(page, rp);
      await page.getByText('That passkey was not accepted').waitFor({ state: 'visible' });
      assert.equal(new URL(page.url()).pathname, '/t/default/login');
    }));

  test('autofill: the email field offers the passkey, and picking it signs in without the password step', T, () =>
    withTessera('passkey autofill', { javaScriptEnabled: true, host: 'localhost' }, async ({ page, context, rp, tessera }) => {
      const cdp = await context.newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      const authenticator = await virtualAuthenticator(cdp);
      await addPasskey(page, tessera, cdp, authenticator);

      // Chromium's virtual authenticator would answer a waiting (conditional) request at once;
      // here it waits until the test "picks the passkey from the suggestions", so the page is
      // seen as a person sees it: the field offering passkeys, the request waiting.
      await context.addInitScript(() => {
        const get = navigator.credentials.get.bind(navigator.credentials);
        navigator.credentials.get = (options) => (options?.mediation === 'conditional'
          ? new Promise((resolve, reject) => { window.pickPasskey = () => get(options).then(resolve, reject); })
          : get(options));
      });
      await context.clearCookies();
      await startAtRp(page, rp);
      await page.waitForFunction(() => typeof window.pickPasskey === 'function');
      const email = page.getByLabel('Email address');
      assert.equal(await email.getAttribute('autocomplete'), 'username webauthn');
      await email.focus();
      await page.evaluate(() => window.pickPasskey());
      await answerConsent(page, { js: true, decision: 'Allow' });
      const result = await rpResult(page, rp);
      assert.equal(result.error, null, `RP reported an error: ${result.error}\n${result.detail}`);
      assert.equal(result.email, USER.email);
      const { amr } = rp.results.at(-1).claims;
      assert.ok(amr.includes('hwk') && !amr.includes('pwd'), `signed in with the passkey alone: amr ${amr}`);
    }));

  test('without JavaScript the passkey button stays hidden and says why', T, () =>
    withTessera('passkeys no js', { javaScriptEnabled: false, host: 'localhost' }, async ({ page, rp }) => {
      await startAtRp(page, rp);
      await settle(page, false);
      assert.equal(await page.getByRole('button', { name: 'Sign in with a passkey' }).count(), 0);
      await page.getByText('Passkeys need JavaScript').waitFor({ state: 'visible' });
    }));
});
