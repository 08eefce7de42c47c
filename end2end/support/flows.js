// Browser steps shared by the tests. Labels and button names are the server's contract.
import assert from 'node:assert/strict';
import { CLIENT, TENANT } from './server.js';

export const LOGIN_PATH = `/t/${TENANT}/login`;
export const CONSENT_PATH = `/t/${TENANT}/consent`;

const onPath = (p) => (url) => url.pathname === p;

/** Waits until the Leptos app has hydrated (it sets <body data-hydrated="true">). */
export async function waitHydrated(page) {
  await page.waitForFunction(() => document.body?.getAttribute('data-hydrated') === 'true', null, { timeout: 30_000 });
}

/** With JavaScript on, waits for hydration; with it off, checks the page really is static. */
export async function settle(page, js) {
  await page.waitForLoadState('load');
  if (js) {
    await waitHydrated(page);
  } else {
    assert.notEqual(await page.locator('body').getAttribute('data-hydrated'), 'true',
      'body has data-hydrated="true" although JavaScript is disabled');
  }
}

/** Opens the relying party's /login and follows the redirect to Tessera's sign-in page. */
export async function startAtRp(page, rp, { auth = 'basic' } = {}) {
  await page.goto(`${rp.baseUrl}/login?auth=${auth}`);
  await page.waitForURL(onPath(LOGIN_PATH));
  const url = new URL(page.url());
  assert.ok(url.search.length > 1, `expected query parameters on the sign-in page URL, got ${page.url()}`);
}

/** Step 1 (email, "Continue") then step 2 (password, "Sign in"). */
export async function signIn(page, { email, password, js }) {
  await settle(page, js);
  await page.getByLabel('Email address', { exact: true }).fill(email);
  await page.getByRole('button', { name: 'Continue', exact: true }).click();
  const pw = page.getByLabel('Password', { exact: true });
  await pw.waitFor({ state: 'visible' });
  if (js) await waitHydrated(page);
  assert.equal(await pw.getAttribute('type'), 'password', 'the "Password" input must have type=password');
  await pw.fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Waits for the consent page naming the client (`app`, default the test client) and clicks "Allow" or "Deny". */
export async function answerConsent(page, { js, decision, app = CLIENT.name }) {
  await page.waitForURL(onPath(CONSENT_PATH));
  await settle(page, js);
  await page.getByText(app).first().waitFor({ state: 'visible' });
  await page.getByRole('button', { name: decision, exact: true }).click();
}

/** Waits for the relying party's callback page and returns the shown values. */
export async function rpResult(page, rp) {
  await page.waitForURL((url) => url.origin === rp.baseUrl && url.pathname === '/callback');
  await page.waitForLoadState('load');
  const text = async (sel) => ((await page.locator(sel).count()) ? (await page.locator(sel).innerText()).trim() : null);
  return {
    url: new URL(page.url()),
    error: await text('#error'),
    detail: await text('#detail'),
    email: await text('#email'),
    sub: await text('#sub'),
    auth: await text('#auth'),
    body: await page.locator('body').innerText(),
  };
}
