// API keys and personal data downloads in a real browser, with JavaScript and without: an
// admin makes a key (shown once), sees it listed with its hint and status, and revokes it;
// then downloads their own data from the account page.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { withTessera } from '../support/fixture.js';
import { ADMIN, createUserWithCli, openConsole, signInToConsole, submit } from '../support/console.js';

const T = { timeout: 240_000 };

for (const js of [true, false]) {
  describe(`API keys and data downloads, JavaScript ${js ? 'on' : 'off'}`, () => {
    test('an admin makes a key, sees it once, revokes it, and downloads their own data', T, () =>
      withTessera(`api keys js=${js}`, { javaScriptEnabled: js }, async ({ page, tessera }) => {
        await createUserWithCli(tessera, { ...ADMIN, admin: true });
        await signInToConsole(page, tessera, ADMIN, js, '/api-keys');
        await page.getByRole('heading', { name: 'API keys', level: 1 }).waitFor({ state: 'visible' });
        assert.match(await page.locator('.console-main').innerText(), /No API keys yet/);

        await page.getByLabel('Name', { exact: true }).fill('Directory sync');
        await page.getByLabel(/^users:read:/).check();
        await page.getByLabel('Works for').selectOption('30');
        await submit(page, js, page.getByRole('button', { name: 'Make key' }), 'Copy it now');
        const key = await page.getByLabel('Key', { exact: true }).inputValue();
        assert.match(key, /^tsk_[A-Za-z0-9_-]{43}$/, `the key: ${key}`);
        if (js) assert.ok(await page.getByRole('button', { name: 'Copy' }).isVisible(), 'a copy button with script');

        const row = page.locator('tbody tr', { hasText: 'Directory sync' });
        assert.match(await row.innerText(), /users:read/);
        assert.match(await row.innerText(), /Active/);
        assert.match(await row.innerText(), /Never/);
        assert.ok((await row.innerText()).includes(`${key.slice(0, 10)}…`), 'the hint');

        await openConsole(page, tessera, '/api-keys', js);
        assert.ok(!(await page.content()).includes(key), 'shown only once');

        await row.getByLabel('Revoke Directory sync').check();
        await submit(page, js, row.getByRole('button', { name: 'Revoke' }), 'no longer works');
        assert.match(await page.locator('tbody tr', { hasText: 'Directory sync' }).innerText(), /Revoked/);

        // The admin's own data, from the account page's link (the download is the browser's).
        await page.goto(`${tessera.baseUrl}/t/default/account`);
        const link = page.getByRole('link', { name: 'Download your data' });
        const href = await link.getAttribute('href');
        assert.equal(href, '/t/default/account/data');
        const download = await page.request.get(new URL(href, page.url()).href);
        assert.equal(download.status(), 200);
        assert.match(download.headers()['content-disposition'] ?? '', /^attachment; filename="personal-data-default-/);
        const data = await download.json();
        assert.equal(data.format, 'tessera.personal-data.v1');
        assert.equal(data.profile.email, ADMIN.email);
        assert.ok(data.sign_ins.history.some((e) => e.action === 'api_key.created'), 'the key they made is in their history');
        assert.ok(!JSON.stringify(data).includes('$argon2'), 'no password hash');
      }));
  });
}
