// Two-step sign-in in a real browser: a person sets up an authenticator app on the account page
// (the test computes the codes), saves the backup codes, and signs in to an application with a
// code; another sets up codes by email (read from the development mail folder) and signs in
// with one. With JavaScript on and off.
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { USER, withTessera } from '../support/fixture.js';
import { answerConsent, rpResult, settle, signIn, startAtRp } from '../support/flows.js';
import { currentStep, totp } from '../support/totp.js';

const T = { timeout: 120_000 };

/** Signs in on the tenant's own pages and opens the account page. */
async function openAccount(page, tessera, js) {
  await page.goto(`${tessera.issuer}/account`);
  await settle(page, js);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await signIn(page, { email: USER.email, password: USER.password, js });
  await page.getByRole('heading', { name: 'Your account' }).waitFor({ state: 'visible' });
  await settle(page, js);
}

/** Reads the backup codes shown once, then continues. */
async function saveBackupCodes(page, js) {
  await page.getByRole('heading', { name: 'Save your backup codes' }).waitFor({ state: 'visible' });
  await settle(page, js);
  const codes = await page.getByTestId('backup-codes').locator('li').allInnerTexts();
  assert.equal(codes.length, 10, 'ten backup codes are shown');
  await page.getByRole('link', { name: 'Continue' }).click();
  return codes;
}

/** The newest one-time code in the development mail folder. */
async function newestMailedCode(tessera, after) {
  const folder = path.join(tessera.tmp, 'mail');
  for (let i = 0; i < 50; i += 1) {
    const names = (await readdir(folder).catch(() => [])).filter((n) => n.endsWith('.eml'));
    const files = await Promise.all(names.map(async (n) => ({ n, t: (await stat(path.join(folder, n))).mtimeMs })));
    const messages = await Promise.all(files.sort((a, b) => b.t - a.t).map((f) => readFile(path.join(folder, f.n), 'utf8')));
    const coded = messages.filter((m) => m.includes('Your code is: '));
    if (coded.length > after) return coded[0].split('Your code is: ')[1].slice(0, 6);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no new code in ${folder}`);
}

describe('two-step sign-in', () => {
  for (const js of [true, false]) {
    const mode = js ? 'with JavaScript' : 'without JavaScript';

    test(`${mode}: set up an authenticator app, then sign in to an application with a code`, T, () =>
      withTessera(`totp ${mode}`, { javaScriptEnabled: js }, async ({ page, context, rp, tessera }) => {
        await openAccount(page, tessera, js);
        await page.getByRole('link', { name: 'Set up authenticator app' }).click();
        await page.getByRole('heading', { name: 'Set up an authenticator app' }).waitFor({ state: 'visible' });
        await settle(page, js);
        assert.ok(await page.getByRole('img', { name: 'QR code for your authenticator app' }).isVisible());
        const secret = (await page.getByTestId('totp-secret').innerText()).trim();
        const step = currentStep();
        await page.getByLabel('Code from the app').fill(totp(secret, step));
        await page.getByRole('button', { name: 'Turn on' }).click();
        const codes = await saveBackupCodes(page, js);
        await page.getByText('Authenticator app').first().waitFor({ state: 'visible' });

        // A new browser session signs in to the application: password, then a code.
        await context.clearCookies();
        await startAtRp(page, rp);
        await signIn(page, { email: USER.email, password: USER.password, js });
        const code = page.getByLabel('Code from your authenticator app');
        await code.waitFor({ state: 'visible' });
        await settle(page, js);
        await code.fill(totp(secret, step)); // spent at set-up: refused
        await page.getByRole('button', { name: 'Continue', exact: true }).click();
        await page.getByText('That code is not right').waitFor({ state: 'visible' });
        await settle(page, js);
        await page.getByLabel('Code from your authenticator app').fill(totp(secret, step + 1));
        await page.getByRole('button', { name: 'Continue', exact: true }).click();
        await answerConsent(page, { js, decision: 'Allow' });
        const result = await rpResult(page, rp);
        assert.equal(result.error, null, `RP reported an error: ${result.error}\n${result.detail}`);
        assert.equal(result.email, USER.email);
        const claims = rp.results.at(-1).claims;
        assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
        assert.equal(claims.acr, 'urn:tessera:acr:mfa');

        // A backup code stands in for the app, once.
        await context.clearCookies();
        await startAtRp(page, rp);
        await signIn(page, { email: USER.email, password: USER.password, js });
        await page.getByRole('link', { name: 'Use a backup code' }).click();
        await settle(page, js);
        await page.getByLabel('Backup code').fill(codes[0]);
        await page.getByRole('button', { name: 'Continue', exact: true }).click();
        await page.getByText('You have 9 backup codes left').waitFor({ state: 'visible' });
        await page.getByRole('link', { name: 'Continue' }).click();
        const again = await rpResult(page, rp);
        assert.equal(again.email, USER.email);
      }));
  }

  test('codes by email: set up, then sign in with a mailed code', T, () =>
    withTessera('email codes', { javaScriptEnabled: true }, async ({ page, context, rp, tessera }) => {
      await openAccount(page, tessera, true);
      await page.getByRole('button', { name: 'Use codes sent by email' }).click();
      const enrolCode = await newestMailedCode(tessera, 0);
      await page.getByLabel('Code from the email').fill(enrolCode);
      await page.getByRole('button', { name: 'Turn on email codes' }).click();
      await saveBackupCodes(page, true);
      await page.getByText('Email codes').first().waitFor({ state: 'visible' });

      await context.clearCookies();
      await startAtRp(page, rp);
      await signIn(page, { email: USER.email, password: USER.password, js: true });
      await page.getByRole('button', { name: 'Email me a code' }).click();
      const code = await newestMailedCode(tessera, 1);
      await page.getByLabel('Code from the email').fill(code);
      await page.getByRole('button', { name: 'Continue', exact: true }).click();
      await answerConsent(page, { js: true, decision: 'Allow' });
      const result = await rpResult(page, rp);
      assert.equal(result.email, USER.email);
      assert.deepEqual(rp.results.at(-1).claims.amr, ['pwd', 'otp', 'mfa']);
    }));
});
