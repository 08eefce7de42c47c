// Steps for the console's Applications, Branding and Policies areas and the platform console
// (/admin). Labels and button names are the server's contract (src/app/pages/admin/clients.rs,
// branding.rs, settings.rs and src/app/pages/platform.rs).
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { settle, signIn } from './flows.js';
import { CONSOLE_PATH, openConsole, submit } from './console.js';
import { runCli } from './server.js';

export const CLIENTS_PATH = `${CONSOLE_PATH}/clients`;

/** On a user's console page: "Give a role" (by its label, e.g. Developer). */
export async function giveRole(page, tessera, js, userId, role) {
  await openConsole(page, tessera, `/users/${userId}`, js);
  const roles = page.getByRole('region', { name: 'Roles', exact: true });
  await roles.getByLabel('Give a role').selectOption({ label: role });
  await submit(page, js, roles.getByRole('button', { name: 'Give role' }), 'The role was given.');
  await page.getByRole('button', { name: `Take away the role ${role}` }).waitFor({ state: 'visible' });
}

/**
 * The new-application flow: "New application" on the list, the type (its link text, e.g.
 * 'Web application' — matched loosely by `typeValue`'s ?type= link), then the form. Lands on the
 * client's page (?show=1 when it has a secret). Returns the client id.
 */
export async function registerApplication(page, tessera, js, { type, name, redirectUris = [], postLogoutUris = [] }) {
  await openConsole(page, tessera, '/clients', js);
  await page.getByRole('link', { name: 'New application' }).click();
  await page.waitForURL((url) => url.pathname === `${CLIENTS_PATH}/new`);
  await settle(page, js);
  // With JavaScript the router changes the URL before the new page has rendered: wait for it.
  const choice = page.locator(`ul.areas a[href$="?type=${type}"]`);
  await choice.first().waitFor({ state: 'visible', timeout: 5_000 }).catch(() => {});
  assert.equal(await choice.count(), 1, `one link to the ${type} type`);
  await choice.click();
  await page.waitForURL((url) => url.pathname === `${CLIENTS_PATH}/new` && url.searchParams.get('type') === type);
  await settle(page, js);
  const nameField = page.getByLabel('Name people see on the consent page');
  try {
    await nameField.waitFor({ state: 'visible', timeout: 5_000 });
  } catch {
    assert.fail(`following the "${type}" link to ${page.url()} left the page without the registration form `
      + `(its HTML: ${(await page.locator('.console-main').innerHTML()).slice(0, 300)}…)`);
  }
  await nameField.fill(name);
  if (redirectUris.length) await page.getByLabel('Redirect URIs (one per line)').fill(redirectUris.join('\n'));
  if (postLogoutUris.length) await page.getByLabel(/^Post-logout redirect URIs/).fill(postLogoutUris.join('\n'));
  await submit(page, js, page.getByRole('button', { name: 'Register application' }), `${name} is registered.`);
  const m = new URL(page.url()).pathname.match(new RegExp(`^${CLIENTS_PATH}/([^/]+)$`));
  assert.ok(m && m[1] !== 'new', `after registering, the console shows the application's page, not ${page.url()}`);
  return decodeURIComponent(m[1]);
}

/** The application names in the Applications list. */
export async function listedApplications(page) {
  return (await page.locator('table tbody tr td:first-child a').allInnerTexts()).map((t) => t.trim());
}

/** The computed background colour of the first visible `.button.primary`. */
export async function primaryButtonColour(page) {
  const button = page.locator('.button.primary').first();
  await button.waitFor({ state: 'visible' });
  return button.evaluate((el) => getComputedStyle(el).backgroundColor);
}

/** On the branding page: fills the look and clicks "Preview"; waits for the preview section. */
export async function previewBranding(page, js, { colour, supportEmail }) {
  await page.getByLabel(/^Primary colour/).fill(colour);
  await page.getByLabel('Support email', { exact: true }).fill(supportEmail);
  await page.getByRole('button', { name: 'Preview', exact: true }).click();
  await page.waitForURL((url) => url.searchParams.get('preview') === '1');
  await settle(page, js);
  const preview = page.getByRole('region', { name: 'Preview (not saved)' });
  await preview.waitFor({ state: 'visible' });
  return preview;
}

// ---- A PNG made here (solid colour), for the logo upload ----

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A width×height PNG (8-bit RGB) of one colour. */
export function solidPng(width, height, [r, g, b]) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const row = Buffer.alloc(1 + width * 3);
  for (let x = 0; x < width; x += 1) row.set([r, g, b], 1 + x * 3);
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

// ---- The platform console ----

/** `tessera operator create --email E`; returns { email, password } (printed once). */
export async function createOperator(tessera, email) {
  const out = await runCli(['operator', 'create', '--email', email], tessera.env);
  const m = out.match(/^password:\s*(\S+)\s*$/m);
  assert.ok(m, `no "password: ..." line in the output of tessera operator create:\n${out}`);
  return { email, password: m[1] };
}

/** /admin signed out offers "Sign in": through /t/_ops/login and back to /admin. */
export async function signInToPlatform(page, tessera, operator, js) {
  await page.goto(`${tessera.baseUrl}/admin`);
  await settle(page, js);
  await page.getByRole('heading', { name: 'Platform console', level: 1 }).waitFor({ state: 'visible' });
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL((url) => url.pathname === '/t/_ops/login');
  await signIn(page, { email: operator.email, password: operator.password, js });
  await page.waitForURL((url) => url.pathname === '/admin');
  await settle(page, js);
  await page.getByRole('heading', { name: 'Tenants', level: 1 }).waitFor({ state: 'visible' });
  assert.match(await page.locator('.console-bar').innerText(), /\(operator\)/);
}
