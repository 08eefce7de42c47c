// The organisation console (/t/{slug}/admin) in a real browser: an admin sets up a custom role
// and a team, a member of that team sees only what the role allows, and every change is in the
// audit log and its exports. The key forms once more without JavaScript, axe-core on every page,
// and screenshots of the console for the README (docs/screenshots/).
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { USER, withTessera } from '../support/fixture.js';
import {
  ADMIN, CONSOLE_PATH, auditActions, consoleAreas, createRole, createTeam, createUserInConsole,
  createUserWithCli, openConsole, openTeam, seriousViolations, signInToConsole, splitWordsInTables, submit,
  userAgentCells, withOtherBrowser,
} from '../support/console.js';
import { answerConsent, rpResult, startAtRp, waitHydrated } from '../support/flows.js';
import { REPO_ROOT } from '../support/server.js';

const T = { timeout: 240_000 };
const SCREENSHOTS = path.join(REPO_ROOT, 'docs', 'screenshots');
const VIEWPORT = { width: 1280, height: 800 };

const SAM = { email: 'sam@example.com', name: 'Sam Support', password: 'sam answers the helpdesk 31' };
const SUPPORT = { name: 'Support', description: 'Reads users to answer questions', permissions: ['users:read'] };
const HELPDESK = { name: 'Helpdesk', description: 'First line support' };

describe('organisation console', () => {
  test('with JavaScript: an admin sets up a support team; its member reads users only; all of it is audited and exported', T, () =>
    withTessera('console with JavaScript', { javaScriptEnabled: true, viewport: VIEWPORT }, async ({ page, tessera }) => {
      const js = true;
      await createUserWithCli(tessera, { ...ADMIN, admin: true });
      await signInToConsole(page, tessera, ADMIN, js);
      const areas = await consoleAreas(page);
      for (const area of ['Users', 'Roles', 'Teams', 'Audit log']) assert.ok(areas.includes(area), `an admin sees ${area}: ${areas.join(', ')}`);

      const samId = await createUserInConsole(page, tessera, js, SAM);
      await createRole(page, tessera, js, SUPPORT);
      const support = page.locator('details.role').filter({ has: page.locator('summary strong', { hasText: SUPPORT.name }) });
      assert.match(await support.locator('summary').innerText(), /users:read/);
      await createTeam(page, tessera, js, { ...HELPDESK, roles: [SUPPORT.name], members: [SAM.email] });
      const helpdesk = await openTeam(page, HELPDESK.name);
      assert.match(await helpdesk.locator('summary').innerText(), /1 member\(s\) · roles: Support/);
      assert.equal(await helpdesk.getByRole('link', { name: SAM.email }).count(), 1, 'Sam is listed as a member');

      // Sam's page: the role reaches them through the team.
      await openConsole(page, tessera, `/users/${samId}`, js);
      assert.match(await page.getByRole('region', { name: 'Roles', exact: true }).innerText(), /Through teams: Support/);
      assert.match(await page.getByRole('region', { name: 'Teams', exact: true }).innerText(), /Helpdesk/);

      // Sam, in a browser of their own: the Users area, read-only; no Roles, Teams or audit log.
      await withOtherBrowser({ javaScriptEnabled: true }, async ({ page: sam }) => {
        await signInToConsole(sam, tessera, SAM, js);
        assert.deepEqual(await consoleAreas(sam), ['Users']);
        assert.deepEqual(await sam.locator('ul.areas li.area > a').allInnerTexts(), ['Users']);
        await sam.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Users' }).click();
        await sam.waitForURL((url) => url.pathname === `${CONSOLE_PATH}/users`);
        await waitHydrated(sam);
        await sam.getByRole('heading', { name: 'Users', level: 1 }).waitFor({ state: 'visible' });
        assert.equal(await sam.getByRole('link', { name: ADMIN.email }).count(), 1, 'the list shows the admin');
        assert.equal(await sam.getByRole('heading', { name: 'Create a user' }).count(), 0, 'no "Create a user" form');
        assert.equal(await sam.getByRole('button', { name: 'Create user' }).count(), 0);
        // Someone else's page: readable, without any of the account actions.
        await sam.getByRole('link', { name: ADMIN.email }).click();
        await sam.locator('.lead', { hasText: ADMIN.email }).waitFor({ state: 'visible' });
        await waitHydrated(sam);
        for (const name of ['Block', 'Delete', 'Save profile', 'Give role', 'Delete for good']) {
          assert.equal(await sam.getByRole('button', { name, exact: true }).count(), 0, `no "${name}" button for a reader`);
        }
        for (const rest of ['/roles', '/teams', '/audit']) {
          await openConsole(sam, tessera, rest, js);
          await sam.getByRole('heading', { name: 'Not allowed', level: 1 }).waitFor({ state: 'visible' });
          assert.match(await sam.locator('.console-main').innerText(), /You do not have permission to open this page/);
        }
        const exported = await sam.request.get(`${tessera.baseUrl}${CONSOLE_PATH}/audit/export?format=csv`);
        assert.equal(exported.status(), 403, `a reader of users exports the audit log: HTTP ${exported.status()}`);
      });

      // The audit log lists every change, and both exports contain them.
      const expected = ['user.created', 'role.created', 'team.created', 'team.updated', 'team.member_added'];
      await openConsole(page, tessera, '/audit', js);
      const listed = await auditActions(page);
      for (const action of expected) assert.ok(listed.includes(action), `the audit page lists ${action}: ${listed.join(', ')}`);

      const csvHref = await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
      assert.match(csvHref, /\/admin\/audit\/export\?format=csv/);
      const csv = await page.request.get(new URL(csvHref, page.url()).href);
      assert.equal(csv.status(), 200, `CSV export: HTTP ${csv.status()} ${await csv.text()}`);
      assert.match(csv.headers()['content-type'] ?? '', /text\/csv/);
      const lines = (await csv.text()).trim().split(/\r?\n/);
      assert.match(lines[0], /^id,at,action,result,actor,target,/);
      for (const action of expected) {
        assert.ok(lines.some((l) => l.includes(`,${action},`)), `the CSV export contains ${action}:\n${lines.join('\n')}`);
      }
      assert.ok(lines.some((l) => l.includes(',user.created,') && l.includes(`user:${samId}`)), 'user.created names Sam');
      assert.ok(lines.some((l) => l.includes(',team.member_added,') && l.includes(`user:${samId}`)), 'team.member_added names Sam');

      const jsonlHref = await page.getByRole('link', { name: 'Export JSON Lines' }).getAttribute('href');
      const jsonl = await page.request.get(new URL(jsonlHref, page.url()).href);
      assert.equal(jsonl.status(), 200, `JSON Lines export: HTTP ${jsonl.status()}`);
      const events = (await jsonl.text()).trim().split('\n').map((l) => JSON.parse(l));
      for (const action of expected) assert.ok(events.some((e) => e.action === action), `the JSON Lines export contains ${action}`);

      // Without the console's cookies, the export is refused.
      const anonymous = await fetch(new URL(csvHref, page.url()).href, { redirect: 'manual' });
      assert.ok(anonymous.status >= 300, `the export without a sign-in answered ${anonymous.status}`);

      // Screenshots for the README, now that there is something to see.
      await mkdir(SCREENSHOTS, { recursive: true });
      const shots = [['overview', ''], ['users', '/users'], ['user', `/users/${samId}`], ['roles', '/roles'], ['teams', '/teams'], ['audit', '/audit']];
      for (const [name, rest] of shots) {
        await openConsole(page, tessera, rest, js);
        if (name === 'teams') await openTeam(page, HELPDESK.name);
        if (name === 'overview') {
          // The activity charts survive hydration: SVG drawn on the server, figures as text.
          assert.equal(await page.locator('svg.chart[role="img"]').count(), 1, 'the sign-in chart');
          assert.match(await page.locator('.chart-summary').innerText(), /^[1-9]\d* sign-ins? and \d+ failed attempts? in the last 30 days\.$/);
          for (const title of ['Sign-ins per day', 'Active people', 'Second factors', 'Busiest applications']) {
            assert.equal(await page.locator('figcaption strong', { hasText: title }).count(), 1, title);
          }
        }
        await page.screenshot({ path: path.join(SCREENSHOTS, `console-${name}.png`), fullPage: true });
      }

      // Tables at a desktop's width and a phone's: no word, identifier or status is split
      // across lines, and a user agent keeps to one line with its full text on hover.
      for (const [width, suffix] of [[1280, ''], [390, '-phone']]) {
        await page.setViewportSize({ width, height: 844 });
        for (const [name, rest] of [['users', '/users'], ['user', `/users/${samId}`], ['audit', '/audit']]) {
          await openConsole(page, tessera, rest, js);
          const split = await splitWordsInTables(page);
          assert.deepEqual(split, [], `${name} at ${width} px splits words`);
          if (name === 'audit') {
            const agents = (await userAgentCells(page)).filter((a) => a.text.trim());
            assert.ok(agents.length > 0, 'the audit log shows user agents');
            for (const agent of agents) {
              assert.ok(agent.oneLine, `a user agent at ${width} px takes more than one line: ${agent.text}`);
              assert.equal(agent.title, agent.text, 'the full user agent is its title');
            }
          }
          if (suffix) await page.screenshot({ path: path.join(SCREENSHOTS, `console-${name}${suffix}.png`), fullPage: true });
        }
      }
      await page.setViewportSize(VIEWPORT);
    }));

  test('without JavaScript: create a user, give them a role, find it in the audit log', T, () =>
    withTessera('console without JavaScript', { javaScriptEnabled: false }, async ({ page, tessera }) => {
      const js = false;
      await createUserWithCli(tessera, { ...ADMIN, admin: true });
      await signInToConsole(page, tessera, ADMIN, js);
      const id = await createUserInConsole(page, tessera, js, SAM);

      const roles = page.getByRole('region', { name: 'Roles', exact: true });
      assert.match(await roles.innerText(), /No role given directly/);
      await roles.getByLabel('Give a role').selectOption({ label: 'Auditor' });
      await submit(page, js, roles.getByRole('button', { name: 'Give role' }), 'The role was given.');
      assert.equal(new URL(page.url()).pathname, `${CONSOLE_PATH}/users/${id}`);
      await page.getByRole('button', { name: 'Take away the role Auditor' }).waitFor({ state: 'visible' });

      // The user list filters by role with a plain GET form.
      await openConsole(page, tessera, '/users', js);
      await page.getByRole('search', { name: 'Find users' }).getByLabel('Role').selectOption({ label: 'Auditor' });
      await page.getByRole('button', { name: 'Search' }).click();
      await page.waitForURL((url) => url.searchParams.get('role') === 'auditor');
      const emails = await page.locator('table tbody tr td:first-child a').allInnerTexts();
      assert.deepEqual(emails, [SAM.email], 'only Sam holds the auditor role');

      // The audit log's filter form, also without script.
      await openConsole(page, tessera, '/audit', js);
      await page.getByLabel('Action', { exact: true }).fill('role.');
      await page.getByRole('button', { name: 'Filter' }).click();
      await page.waitForURL((url) => url.searchParams.get('action') === 'role.');
      const listed = await auditActions(page);
      assert.deepEqual([...new Set(listed)], ['role.assigned'], `filtered audit actions: ${listed.join(', ')}`);
      const csvHref = await page.getByRole('link', { name: 'Export CSV' }).getAttribute('href');
      assert.match(csvHref, /[?&]action=role\./, 'the export keeps the filter');
    }));

  test('accessibility: axe-core finds no serious or critical violation on sign-in, consent and every console page', T, () =>
    withTessera('console accessibility', { javaScriptEnabled: true, bypassCSP: true }, async ({ page, tessera, rp }) => {
      const js = true;
      const found = [];
      const check = async (p, label) => { found.push(...await seriousViolations(p, label)); };

      // Sign-in (both steps) and consent, through the relying party, as Alice (no console rights).
      await startAtRp(page, rp);
      await waitHydrated(page);
      await check(page, 'sign-in, email step');
      await page.getByLabel('Email address', { exact: true }).fill(USER.email);
      await page.getByRole('button', { name: 'Continue', exact: true }).click();
      await page.getByLabel('Password', { exact: true }).waitFor({ state: 'visible' });
      await waitHydrated(page);
      await check(page, 'sign-in, password step');
      await page.getByLabel('Password', { exact: true }).fill(USER.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL((url) => url.pathname === `/t/default/consent`);
      await waitHydrated(page);
      await page.getByRole('button', { name: 'Allow', exact: true }).waitFor({ state: 'visible' });
      await check(page, 'consent');
      await answerConsent(page, { js, decision: 'Allow' });
      assert.equal((await rpResult(page, rp)).error, null);

      // Alice is signed in, without any console permission.
      await openConsole(page, tessera, '/users', js);
      await page.getByRole('heading', { name: 'Not allowed', level: 1 }).waitFor({ state: 'visible' });
      await check(page, 'console, not allowed');
      await openConsole(page, tessera, '', js);
      await check(page, 'console overview without access');

      // An admin, with some data to show.
      await createUserWithCli(tessera, { ...ADMIN, admin: true });
      await withOtherBrowser({ javaScriptEnabled: true, bypassCSP: true }, async ({ page: admin }) => {
        await admin.goto(`${tessera.baseUrl}${CONSOLE_PATH}`);
        await waitHydrated(admin);
        await admin.getByRole('heading', { name: 'Organisation console' }).waitFor({ state: 'visible' });
        await check(admin, 'console, sign-in offer');
        await signInToConsole(admin, tessera, ADMIN, js);
        const samId = await createUserInConsole(admin, tessera, js, SAM);
        await check(admin, 'console, user page with a notice');
        await createRole(admin, tessera, js, SUPPORT);
        await createTeam(admin, tessera, js, { ...HELPDESK, roles: [SUPPORT.name], members: [SAM.email] });

        // Every area the navigation offers an admin (at least users, roles, teams and the audit log).
        await openConsole(admin, tessera, '', js);
        const areas = await admin.getByRole('navigation', { name: 'Console' }).getByRole('link').evaluateAll(
          (links) => links.map((a) => [a.textContent.trim(), new URL(a.href).pathname]),
        );
        const pages = [['user page', `/users/${samId}`]];
        for (const [label, href] of areas) pages.push([label, href.slice(CONSOLE_PATH.length)]);
        for (const rest of ['', '/users', '/roles', '/teams', '/audit']) {
          assert.ok(pages.some(([, r]) => r === rest), `the navigation links ${CONSOLE_PATH}${rest}: ${JSON.stringify(areas)}`);
        }
        for (const [label, rest] of pages) {
          await openConsole(admin, tessera, rest, js);
          // What <details> hold (custom roles, teams) is checked too.
          await admin.evaluate(() => { for (const d of document.querySelectorAll('details')) d.open = true; });
          await check(admin, `console, ${label}`);
        }
      });

      assert.equal(found.length, 0, `axe-core found serious or critical violations:\n${found.join('\n')}`);
    }));
});
