// Steps in the organisation console (/t/{slug}/admin). Labels and button names are the
// server's contract (src/app/pages/admin/*.rs); every form posts to a server function, and
// its outcome is shown once as <p class="notice" role="status"> or <p class="alert" role="alert">.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { openBrowser } from './browser.js';
import { settle, signIn } from './flows.js';
import { TENANT, runCli } from './server.js';

export const CONSOLE_PATH = `/t/${TENANT}/admin`;

/** Created with `tessera user create --admin`: holds the built-in admin role. */
export const ADMIN = { email: 'ada@example.com', name: 'Ada Admin', password: 'ada runs the organisation 2024' };

/** Creates a user with the CLI against the test server's database. */
export async function createUserWithCli(tessera, { email, name, password, admin = false }) {
  const args = ['user', 'create', '--tenant', TENANT, '--email', email, '--name', name, '--password-stdin'];
  if (admin) args.push('--admin');
  await runCli(args, tessera.env, `${password}\n`);
}

/** Opens a console page (`rest` like '/users') and waits until it is ready. */
export async function openConsole(page, tessera, rest, js) {
  await page.goto(`${tessera.baseUrl}${CONSOLE_PATH}${rest}`);
  await settle(page, js);
  await page.locator('.console-main h1, h1').first().waitFor({ state: 'visible' });
}

/**
 * Signed out, a console page offers "Sign in": it goes through the tenant's normal sign-in
 * and comes back to the page.
 */
export async function signInToConsole(page, tessera, who, js, rest = '') {
  await page.goto(`${tessera.baseUrl}${CONSOLE_PATH}${rest}`);
  await settle(page, js);
  await page.getByRole('heading', { name: 'Organisation console' }).waitFor({ state: 'visible' });
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await signIn(page, { email: who.email, password: who.password, js });
  await page.waitForURL((url) => url.pathname === `${CONSOLE_PATH}${rest}`);
  await page.locator('.console').waitFor({ state: 'visible' });
  await settle(page, js);
  assert.match(await page.locator('.console-bar').innerText(), new RegExp(`Signed in as ${who.email.replace(/\./g, '\\.')}`));
}

/** Clicks a form's button and waits for its outcome; fails with the alert's text if it failed. */
export async function submit(page, js, button, expected) {
  await button.click();
  const done = page.locator('p.notice[role="status"]', { hasText: expected });
  const failed = page.locator('.console p.alert[role="alert"]');
  await done.or(failed).first().waitFor({ state: 'visible' });
  if (await failed.count()) assert.fail(`expected "${expected}", the form answered: ${await failed.first().innerText()}`);
  await settle(page, js);
  // Shown once: it is not part of the page's content any more after this.
}

/** The navigation's area links (besides "Overview"). */
export async function consoleAreas(page) {
  return (await page.getByRole('navigation', { name: 'Console' }).getByRole('link').allInnerTexts())
    .map((t) => t.trim())
    .filter((t) => t !== 'Overview');
}

/** On the users page: "Create a user"; lands on the new user's page. Returns the user's id. */
export async function createUserInConsole(page, tessera, js, { email, name, password }) {
  await openConsole(page, tessera, '/users', js);
  const form = page.getByRole('region', { name: 'Create a user' });
  await form.getByLabel('Email address', { exact: true }).fill(email);
  await form.getByLabel('Name (optional)').fill(name);
  await form.getByLabel(/^Password/).fill(password);
  await submit(page, js, form.getByRole('button', { name: 'Create user' }), `${email} was created.`);
  const m = new URL(page.url()).pathname.match(new RegExp(`^${CONSOLE_PATH}/users/([^/]+)$`));
  assert.ok(m, `after creating a user the console shows their page, not ${page.url()}`);
  assert.match(await page.locator('.lead').innerText(), new RegExp(email.replace(/\./g, '\\.')));
  return m[1];
}

/** On the roles page: "Create a role" with the given permissions (values like users:read). */
export async function createRole(page, tessera, js, { name, description, permissions }) {
  await openConsole(page, tessera, '/roles', js);
  const form = page.getByRole('region', { name: 'Create a role' });
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByLabel('Description', { exact: true }).fill(description);
  for (const p of permissions) {
    await form.getByRole('checkbox', { name: new RegExp(`^${p.replace(/[*:]/g, '\\$&')} — `) }).check();
  }
  await submit(page, js, form.getByRole('button', { name: 'Create role' }), `The role ${name} was created.`);
}

/** The <details> of a team on the teams page, opened. */
export async function openTeam(page, name) {
  const team = page.locator('details.team').filter({ has: page.locator('summary strong', { hasText: name }) });
  assert.equal(await team.count(), 1, `one team called ${name}`);
  if (!(await team.evaluate((d) => d.open))) await team.locator('summary').click();
  return team;
}

/** On the teams page: creates a team, gives it roles (by name), adds members (by email). */
export async function createTeam(page, tessera, js, { name, description, roles = [], members = [] }) {
  await openConsole(page, tessera, '/teams', js);
  const form = page.getByRole('region', { name: 'Create a team' });
  await form.getByLabel('Name', { exact: true }).fill(name);
  await form.getByLabel('Description', { exact: true }).fill(description);
  await submit(page, js, form.getByRole('button', { name: 'Create team' }), `The team ${name} was created.`);
  if (roles.length) {
    const team = await openTeam(page, name);
    for (const role of roles) await team.getByRole('checkbox', { name: role, exact: true }).check();
    await submit(page, js, team.getByRole('button', { name: 'Save team' }), `The team ${name} was saved.`);
  }
  for (const email of members) {
    const team = await openTeam(page, name);
    await team.getByLabel('Add a member by email').fill(email);
    await submit(page, js, team.getByRole('button', { name: 'Add member' }), `${email} joined the team.`);
  }
}

/** The actions listed in the audit page's table. */
export async function auditActions(page) {
  return (await page.locator('table tbody tr td:nth-child(2)').allInnerTexts()).map((t) => t.trim());
}

/**
 * Runs `fn({ page, context, errors })` in a second, fresh browser (another person); on failure
 * adds that browser's page URL, errors and HTML to the error.
 */
export async function withOtherBrowser(options, fn) {
  const browser = await openBrowser(options);
  try {
    await fn(browser);
  } catch (e) {
    let url = '';
    let html = '';
    try { url = browser.page.url(); html = await browser.page.content(); } catch { /* no page */ }
    e.message += `\n--- second browser ---\npage URL: ${url}\nbrowser errors:\n${browser.errors.join('\n') || '(none)'}`
      + `\npage HTML (first 4000 chars):\n${html.slice(0, 4000)}`;
    throw e;
  } finally {
    await browser.close();
  }
}

let axeSource;
/** The axe-core script (node_modules/axe-core/axe.min.js). */
async function axeScript() {
  axeSource ??= await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  return axeSource;
}

/**
 * Runs axe-core in the page (its context needs bypassCSP: true) and returns its serious and
 * critical violations, each as readable text naming the page.
 */
export async function seriousViolations(page, label) {
  if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) {
    // Removed once run, so the page's HTML (printed on failure) stays readable; axe stays.
    const tag = await page.addScriptTag({ content: await axeScript() });
    await tag.evaluate((el) => el.remove());
  }
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      helpUrl: v.helpUrl,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html.slice(0, 200), summary: n.failureSummary })),
    }));
  });
  return result
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => [
      `${label} (${new URL(page.url()).pathname}): ${v.id} [${v.impact}] ${v.help} (${v.helpUrl})`,
      ...v.nodes.map((n) => `    ${n.target}  ${n.html}\n      ${(n.summary ?? '').replace(/\n/g, '\n      ')}`),
    ].join('\n'));
}

// Words split across two lines inside table cells: each is [word, cell text]. A word counts as
// split when the browser lays it out in more than one box (one per line it touches).
export async function splitWordsInTables(page) {
  return page.evaluate(() => {
    const split = [];
    for (const cell of document.querySelectorAll('td')) {
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (const match of node.data.matchAll(/\S+/g)) {
          const range = document.createRange();
          range.setStart(node, match.index);
          range.setEnd(node, match.index + match[0].length);
          const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
          if (lines.size > 1) split.push([match[0], cell.innerText]);
        }
      }
    }
    return split;
  });
}

// User agents shown in tables: whether each keeps to one line and carries its full text as title.
export async function userAgentCells(page) {
  return page.locator('.user-agent').evaluateAll((els) => els.map((el) => ({
    title: el.title,
    text: el.textContent,
    oneLine: el.getClientRects().length === 1 && el.getBoundingClientRect().height < 2 * parseFloat(getComputedStyle(el).lineHeight || '20'),
  })));
}
