// The console's Applications, Branding and Policies areas and the platform console (/admin) in
// a real browser: a developer registers a web application and a standard OpenID Connect relying
// party (openid-client) signs in with its client id and secret; developers see only their own
// applications; the organisation's colour, logo and support email reach the sign-in page;
// axe-core on every new page; screenshots for the README (docs/screenshots/).
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CLIENT, USER, withTessera } from '../support/fixture.js';
import {
  ADMIN, consoleAreas, createUserInConsole, createUserWithCli, openConsole, seriousViolations,
  signInToConsole, submit, withOtherBrowser,
} from '../support/console.js';
import {
  CLIENTS_PATH, createOperator, giveRole, listedApplications, previewBranding, primaryButtonColour,
  registerApplication, signInToPlatform, solidPng,
} from '../support/apps.js';
import { CONSENT_PATH, rpResult, settle, signIn, startAtRp, waitHydrated } from '../support/flows.js';
import { startRp } from '../support/rp.js';
import { REPO_ROOT, freePort } from '../support/server.js';

const T = { timeout: 300_000 };
const SCREENSHOTS = path.join(REPO_ROOT, 'docs', 'screenshots');
const VIEWPORT = { width: 1280, height: 800 };
const shoot = async (page, name) => {
  await mkdir(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, name), fullPage: true });
};

const DANA = { email: 'dana@example.com', name: 'Dana Developer', password: 'dana ships the dashboard 77' };
const DEVON = { email: 'devon@example.com', name: 'Devon Developer', password: 'devon builds the tools 58' };
const BRAND = { colour: '#0b6e4f', rgb: 'rgb(11, 110, 79)', supportEmail: 'help@example.com' };

/** The id in the console's link to a user (on the users list). */
async function userId(page, tessera, js, email) {
  await openConsole(page, tessera, '/users', js);
  const href = await page.getByRole('link', { name: email, exact: true }).getAttribute('href');
  return href.split('/').pop();
}

/** Signs `who` in through relying party `rp` in `page`, allowing consent for `appName` if asked. */
async function signInThroughRp(page, rp, who, appName, js) {
  await startAtRp(page, rp);
  await signIn(page, { email: who.email, password: who.password, js });
  await page.waitForURL((url) => url.pathname === CONSENT_PATH || url.origin === rp.baseUrl);
  if (new URL(page.url()).pathname === CONSENT_PATH) {
    await settle(page, js);
    await page.getByText(appName).first().waitFor({ state: 'visible' });
    await page.getByRole('button', { name: 'Allow', exact: true }).click();
  }
  return rpResult(page, rp);
}

describe('applications, branding, policies and the platform console', () => {
  test('a developer registers a web application, copies its secret, and openid-client signs in with it', T, () =>
    withTessera('applications: developer registers a web app', { javaScriptEnabled: true, viewport: VIEWPORT }, async ({ page, tessera }) => {
      const js = true;
      const app = { name: 'Dana Dashboard' };
      // The admin creates Dana in the console and makes her a developer.
      await createUserWithCli(tessera, { ...ADMIN, admin: true });
      await signInToConsole(page, tessera, ADMIN, js);
      const danaId = await createUserInConsole(page, tessera, js, DANA);
      await giveRole(page, tessera, js, danaId, 'Developer');

      // The relying party gets its own port, so its redirect URI is known before it starts.
      const rpPort = await freePort();
      const redirectUri = `http://127.0.0.1:${rpPort}/callback`;
      let clientId;
      let secret;
      await withOtherBrowser({ javaScriptEnabled: true, viewport: VIEWPORT }, async ({ page: dev, context }) => {
        await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: tessera.baseUrl });
        await signInToConsole(dev, tessera, DANA, js);
        assert.deepEqual(await consoleAreas(dev), ['Applications'], 'a developer sees only Applications');
        await openConsole(dev, tessera, '/clients', js);
        assert.match(await dev.locator('.console-main').innerText(), /No applications yet/);

        clientId = await registerApplication(dev, tessera, js, { type: 'web', name: app.name, redirectUris: [redirectUri] });
        assert.equal(new URL(dev.url()).searchParams.get('show'), '1', 'the page right after registering shows the secret');
        const field = dev.getByTestId('client-secret');
        await field.waitFor({ state: 'visible' });
        assert.equal(await field.getAttribute('readonly'), '', 'the secret field is read-only');
        secret = await field.inputValue();
        assert.ok(secret.length >= 20, `a long secret: ${JSON.stringify(secret)}`);
        const facts = await dev.locator('dl.facts').innerText();
        assert.ok(facts.includes(clientId), `the page shows the client id ${clientId}:\n${facts}`);
        assert.ok(facts.includes(tessera.issuer), `the page shows the issuer:\n${facts}`);
        assert.ok(facts.includes(`${tessera.issuer}/.well-known/openid-configuration`), 'and the discovery URL');
        const snippet = await dev.getByLabel('Configuration to paste').inputValue();
        assert.match(snippet, new RegExp(`^OIDC_CLIENT_ID=${clientId}$`, 'm'));
        assert.match(snippet, new RegExp(`^OIDC_REDIRECT_URI=${redirectUri.replace(/[.]/g, '\\.')}$`, 'm'));
        assert.ok(!snippet.includes(secret), 'the snippet does not repeat the secret');
        await shoot(dev, 'console-client.png');

        // "Copy" (shown where the clipboard API works) puts exactly the secret on the clipboard.
        const copy = dev.locator('button[data-copy="client-secret"]');
        await copy.waitFor({ state: 'visible' });
        await copy.click();
        await dev.locator('button[data-copy="client-secret"]', { hasText: 'Copied' }).waitFor({ state: 'visible' });
        assert.equal(await dev.evaluate(() => navigator.clipboard.readText()), secret, 'the clipboard holds the secret');

        // Shown once: reloading the same address (still ?show=1) does not show it again.
        await dev.reload();
        await settle(dev, js);
        await dev.getByRole('heading', { name: 'Connect your application' }).waitFor({ state: 'visible' });
        assert.equal(await dev.getByTestId('client-secret').count(), 0, 'no secret after a reload');
        assert.ok(!(await dev.locator('body').innerText()).includes(secret), 'the secret is nowhere on the page');

        await openConsole(dev, tessera, '/clients', js);
        assert.deepEqual(await listedApplications(dev), [app.name]);
      });

      // A standard relying party (openid-client: discovery, PKCE, state, nonce, ID token checks)
      // with the new client id and the copied secret signs Alice in.
      const rp = await startRp({ issuer: tessera.issuer, clientId, clientSecret: secret, port: rpPort });
      try {
        await withOtherBrowser({ javaScriptEnabled: true }, async ({ page: alice }) => {
          const result = await signInThroughRp(alice, rp, USER, app.name, js);
          assert.equal(result.error, null, `the relying party failed: ${result.error}\n${result.detail}`);
          assert.equal(result.email, USER.email);
          assert.ok(result.sub, 'the ID token has a subject');
          const [done] = rp.results;
          assert.equal(done.claims.email ?? done.userinfo.email, USER.email);
          assert.equal(done.claims.iss, tessera.issuer);
          assert.deepEqual([done.claims.aud].flat(), [clientId], 'the ID token is for the new client');
          assert.equal(done.claims.sub, result.sub);
        });
      } catch (e) {
        e.message += `\n--- second relying party ---\n${rp.log.join('\n')}\n${JSON.stringify(rp.results, null, 2)}`;
        throw e;
      } finally {
        await rp.close();
      }
    }));

  test('forms check what is typed with the server\'s own rules; without JavaScript the server\'s refusal shows next to the field', T, () =>
    withTessera('applications: field rules in the browser and on the server', { javaScriptEnabled: true }, async ({ page, tessera }) => {
      await createUserWithCli(tessera, { ...ADMIN, admin: true });
      await signInToConsole(page, tessera, ADMIN, true);
      await openConsole(page, tessera, '/clients/new?type=web', true);
      const uris = page.getByLabel('Redirect URIs (one per line)');
      const uriNote = page.locator('#redirect-uris-check');
      await uris.fill('https://app.example.com/cb\nhttp://app.example.com/cb');
      await uriNote.filter({ hasText: 'must use https (plain http is allowed only for loopback addresses)' }).waitFor();
      assert.equal(await uris.getAttribute('aria-invalid'), 'true', 'the field is marked invalid');
      assert.match(await uris.getAttribute('aria-describedby'), /redirect-uris-check/, 'and described by the message');
      await uris.fill('https://app.example.com/cb#section');
      await uriNote.filter({ hasText: 'must not contain a fragment' }).waitFor();
      await uris.fill('https://app.example.com/cb\nhttp://127.0.0.1:8080/cb');
      await page.waitForFunction(() => document.querySelector('#redirect-uris-check').textContent === '');
      assert.equal(await uris.getAttribute('aria-invalid'), null, 'valid again');
      const logo = page.getByLabel('Logo (optional, an https:// image address)');
      await logo.fill('javascript:alert(1)');
      await page.locator('#logo-check', { hasText: 'https:// address of an image' }).waitFor();

      // Policies: a bound that depends on another field follows what is typed there.
      await openConsole(page, tessera, '/settings', true);
      await page.getByLabel('Idle timeout (minutes)').fill('600');
      const idleNote = page.locator('#idle_minutes-check');
      await idleNote.filter({ hasText: 'is 1 minute to 8 hours.' }).waitFor();
      await page.getByLabel('Sign-in lifetime (hours)').fill('12');
      await page.waitForFunction(() => document.querySelector('#idle_minutes-check').textContent === '');
      await page.getByLabel('Minimum length (characters)').fill('6');
      await page.locator('#password_min_length-check', { hasText: '8 to 64 characters' }).waitFor();

      // Without JavaScript the form is sent as it is, and the server's refusal (the same rule)
      // comes back next to the field.
      await withOtherBrowser({ javaScriptEnabled: false }, async ({ page: plain }) => {
        await signInToConsole(plain, tessera, ADMIN, false);
        await openConsole(plain, tessera, '/clients/new?type=spa', false);
        await plain.getByLabel('Name people see on the consent page').fill('Plain App');
        await plain.getByLabel('Redirect URIs (one per line)').fill('com.example.app:/cb');
        await plain.getByRole('button', { name: 'Register application' }).click();
        await plain.waitForLoadState('load');
        const note = plain.locator('#redirect-uris-check');
        assert.match(await note.innerText(), /app schemes are for native apps/);
        assert.equal(await plain.getByLabel('Redirect URIs (one per line)').getAttribute('aria-invalid'), 'true');
        assert.match(await plain.locator('p.alert[role="alert"]').innerText(), /app schemes are for native apps/,
          'the message is also announced at the top');
      });
      await openConsole(page, tessera, '/clients', true);
      assert.ok(!(await listedApplications(page)).includes('Plain App'), 'the refused application was not registered');
    }));

  test('a developer sees only the applications they registered; an admin sees them all', T, () =>
    withTessera('applications: developers see their own', { javaScriptEnabled: true, viewport: VIEWPORT }, async ({ page, tessera }) => {
      const js = true;
      await createUserWithCli(tessera, { ...ADMIN, admin: true });
      await createUserWithCli(tessera, DANA);
      await createUserWithCli(tessera, DEVON);
      await signInToConsole(page, tessera, ADMIN, js);
      for (const who of [DANA, DEVON]) await giveRole(page, tessera, js, await userId(page, tessera, js, who.email), 'Developer');

      let danaClient;
      await withOtherBrowser({ javaScriptEnabled: true }, async ({ page: dana }) => {
        await signInToConsole(dana, tessera, DANA, js);
        danaClient = await registerApplication(dana, tessera, js, {
          type: 'web', name: 'Dana Dashboard', redirectUris: ['https://dashboard.example.com/auth/callback'],
        });
      });
      await withOtherBrowser({ javaScriptEnabled: true }, async ({ page: devon }) => {
        await signInToConsole(devon, tessera, DEVON, js);
        await openConsole(devon, tessera, '/clients', js);
        assert.deepEqual(await listedApplications(devon), [], "Devon's list is empty");
        assert.match(await devon.locator('.console-main').innerText(), /No applications yet/);
        await registerApplication(devon, tessera, js, {
          type: 'spa', name: 'Devon Tools', redirectUris: ['https://tools.example.com/callback'],
        });
        await openConsole(devon, tessera, '/clients', js);
        assert.deepEqual(await listedApplications(devon), ['Devon Tools'], "Devon sees only his application");
        assert.equal(await devon.getByText(danaClient).count(), 0, "Dana's client id is nowhere on Devon's list");

        // Dana's application's own address: as if it did not exist.
        await devon.goto(`${tessera.baseUrl}${CLIENTS_PATH}/${danaClient}`);
        await settle(devon, js);
        await devon.getByRole('heading', { name: 'Page not found', level: 1 }).waitFor({ state: 'visible' });
        const body = await devon.locator('body').innerText();
        assert.ok(!body.includes('Dana Dashboard'), 'the not-found page does not name the application');
      });

      // The admin sees both.
      await openConsole(page, tessera, '/clients', js);
      assert.deepEqual((await listedApplications(page)).sort(), ['Dana Dashboard', 'Devon Tools', CLIENT.name]);
      await shoot(page, 'console-clients.png');
    }));

  test('branding: preview changes nothing; saved colour, logo and support email show on the sign-in page', T, () =>
    withTessera('branding on the sign-in page', { javaScriptEnabled: true, viewport: VIEWPORT }, async ({ page, tessera, rp }) => {
      const js = true;
      const signInPage = async (fn) => withOtherBrowser({ javaScriptEnabled: true }, async ({ page: p }) => {
        await startAtRp(p, rp);
        await waitHydrated(p);
        await p.getByLabel('Email address', { exact: true }).waitFor({ state: 'visible' });
        await fn(p);
      });
      let before;
      await signInPage(async (p) => {
        before = await primaryButtonColour(p);
        assert.notEqual(before, BRAND.rgb);
        assert.equal(await p.locator('img.brand-logo').count(), 0, 'no logo yet');
      });

      await createUserWithCli(tessera, { ...ADMIN, admin: true });
      await signInToConsole(page, tessera, ADMIN, js);
      await openConsole(page, tessera, '/branding', js);
      const preview = await previewBranding(page, js, { colour: BRAND.colour, supportEmail: BRAND.supportEmail });
      assert.match(await preview.innerText(), new RegExp(BRAND.supportEmail.replace(/\./g, '\\.')));
      assert.equal(await preview.locator('.button.primary').evaluate((el) => getComputedStyle(el).backgroundColor), BRAND.rgb,
        'the preview draws the new colour');
      assert.equal(await page.locator('p.notice[role="status"]').count(), 0, 'a preview saves nothing, so says nothing');

      // Nothing is saved yet: the sign-in page looks as before.
      await signInPage(async (p) => {
        assert.equal(await primaryButtonColour(p), before, 'the sign-in page keeps its colour during a preview');
        assert.equal(await p.locator('p.support').count(), 0, 'no support line yet');
      });

      // "Save" saves what the form holds.
      const colour = page.getByLabel(/^Primary colour/);
      const email = page.getByLabel('Support email', { exact: true });
      if ((await colour.inputValue()) !== BRAND.colour) {
        // The form shows the saved look again after a preview; fill it in once more.
        process.stderr.write(`note: after "Preview" the branding form holds ${JSON.stringify(await colour.inputValue())}, not the previewed colour\n`);
        await colour.fill(BRAND.colour);
        await email.fill(BRAND.supportEmail);
      }
      await submit(page, js, page.getByRole('button', { name: 'Save', exact: true }), 'Saved');
      assert.equal(await page.getByLabel(/^Primary colour/).inputValue(), BRAND.colour);

      // The logo: a plain multipart form.
      const png = solidPng(48, 48, [11, 110, 79]);
      await page.locator('#logo-file').setInputFiles({ name: 'logo.png', mimeType: 'image/png', buffer: png });
      await submit(page, js, page.getByRole('button', { name: 'Upload logo' }), 'The logo was saved.');
      const logo = page.locator('.console-main img.brand-logo');
      await logo.waitFor({ state: 'visible' });

      // Screenshot with the preview shown.
      await previewBranding(page, js, { colour: BRAND.colour, supportEmail: BRAND.supportEmail });
      await page.waitForFunction(() => [...document.images].every((i) => i.complete));
      await shoot(page, 'console-branding.png');

      // A fresh browser: the sign-in page has the colour, the logo and the support email.
      await signInPage(async (p) => {
        assert.equal(await primaryButtonColour(p), BRAND.rgb, 'the primary button uses the saved colour');
        const img = p.locator('img.brand-logo');
        await img.waitFor({ state: 'visible' });
        await p.waitForFunction(() => { const i = document.querySelector('img.brand-logo'); return i && i.complete; });
        assert.equal(await img.evaluate((i) => i.naturalWidth), 48, 'the logo loaded');
        assert.match(await img.getAttribute('alt'), /logo/);
        const support = p.locator('p.support');
        await support.waitFor({ state: 'visible' });
        assert.match(await support.innerText(), new RegExp(BRAND.supportEmail.replace(/\./g, '\\.')));
        assert.equal(await support.getByRole('link', { name: BRAND.supportEmail }).getAttribute('href'), `mailto:${BRAND.supportEmail}`);
      });
    }));

  test('accessibility: axe-core on applications, branding, policies and the platform console', T, () =>
    withTessera('applications accessibility', { javaScriptEnabled: true, bypassCSP: true, viewport: VIEWPORT }, async ({ page, tessera }) => {
      const js = true;
      const found = [];
      const check = async (p, label) => {
        await p.evaluate(() => { for (const d of document.querySelectorAll('details')) d.open = true; });
        found.push(...await seriousViolations(p, label));
      };

      await createUserWithCli(tessera, { ...ADMIN, admin: true });
      await signInToConsole(page, tessera, ADMIN, js);

      // Applications: empty list, type choice, form, the page with the secret, the list with one.
      await openConsole(page, tessera, '/clients', js);
      await check(page, 'applications, empty');
      await page.getByRole('link', { name: 'New application' }).click();
      await page.waitForURL((url) => url.pathname === `${CLIENTS_PATH}/new`);
      await settle(page, js);
      await check(page, 'new application, type choice');
      await page.locator('ul.areas a[href$="?type=web"]').click();
      await page.waitForURL((url) => url.searchParams.get('type') === 'web');
      await settle(page, js);
      await check(page, 'new application, web form');
      const clientId = await registerApplication(page, tessera, js, {
        type: 'web', name: 'Ada App', redirectUris: ['https://app.example.com/auth/callback'],
      });
      await page.getByTestId('client-secret').waitFor({ state: 'visible' });
      await check(page, 'application page with the secret');
      await openConsole(page, tessera, `/clients/${clientId}`, js);
      await check(page, 'application page');
      await openConsole(page, tessera, '/clients', js);
      await check(page, 'applications, one');

      // Branding, with the preview (and once with a contrast warning).
      await openConsole(page, tessera, '/branding', js);
      await check(page, 'branding');
      await previewBranding(page, js, { colour: '#f0f0f0', supportEmail: BRAND.supportEmail });
      await check(page, 'branding, preview with a contrast warning');
      await previewBranding(page, js, { colour: BRAND.colour, supportEmail: BRAND.supportEmail });
      await check(page, 'branding, preview');

      // Policies, before and after saving.
      await openConsole(page, tessera, '/settings', js);
      await check(page, 'policies');
      await page.getByLabel('Minimum length (characters)').fill('12');
      await submit(page, js, page.getByRole('button', { name: 'Save policies' }), 'The policies were saved.');
      assert.equal(await page.getByLabel('Minimum length (characters)').inputValue(), '12');
      await check(page, 'policies, saved');
      await openConsole(page, tessera, '/settings', js);
      await shoot(page, 'console-policies.png');

      // The platform console: no operator yet, signed out, signed in with a tenant created.
      await withOtherBrowser({ javaScriptEnabled: true, bypassCSP: true, viewport: VIEWPORT }, async ({ page: ops }) => {
        await ops.goto(`${tessera.baseUrl}/admin`);
        await settle(ops, js);
        await ops.getByRole('heading', { name: 'Platform console', level: 1 }).waitFor({ state: 'visible' });
        await check(ops, 'platform console, no operator yet');
        const operator = await createOperator(tessera, 'olivia@ops.example.com');
        await ops.reload();
        await settle(ops, js);
        await ops.getByRole('button', { name: 'Sign in', exact: true }).waitFor({ state: 'visible' });
        await check(ops, 'platform console, signed out');
        await signInToPlatform(ops, tessera, operator, js);
        await check(ops, 'platform console');
        await ops.getByLabel('Slug', { exact: true }).fill('acme');
        await ops.getByLabel('Name', { exact: true }).fill('Acme Corporation');
        await ops.getByLabel("First owner's email address").fill('owner@acme.example.com');
        await submit(ops, js, ops.getByRole('button', { name: 'Create tenant' }), 'The tenant acme was created');
        const slugs = (await ops.locator('table tbody tr td:first-child').allInnerTexts()).map((t) => t.trim());
        for (const slug of ['default', '_ops', 'acme']) assert.ok(slugs.includes(slug), `the tenants list shows ${slug}: ${slugs.join(', ')}`);
        await check(ops, 'platform console with a notice');
        await ops.reload();
        await settle(ops, js);
        await ops.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor({ state: 'visible' });
        await shoot(ops, 'platform.png');
      });

      assert.equal(found.length, 0, `axe-core found serious or critical violations:\n${found.join('\n')}`);
    }));
});
