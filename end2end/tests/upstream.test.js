// Signing in with another identity provider's account, through the sign-in page's
// "Continue with …" button, with JavaScript on and off: a foreign OpenID Connect provider
// (oidc-provider from npm, its development sign-in pages) and a SAML 2.0 identity provider
// (tests/saml_idp.py, pysaml2). Tessera is reached as `localhost` and the providers as
// 127.0.0.1: another site, so the SAML Response is the cross-site POST it is in real life,
// which carries no SameSite=Lax cookie.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, test } from 'node:test';
import Provider from 'oidc-provider';
import { withTessera } from '../support/fixture.js';
import { answerConsent, rpResult, settle, startAtRp } from '../support/flows.js';
import { REPO_ROOT, freePort, runCli } from '../support/server.js';

// The providers listen on loopback: Tessera may call them (its SSRF guard refuses private
// networks otherwise). Read by the server this file starts, and by its command line.
process.env.TESSERA_FETCH_ALLOW_PRIVATE_NETWORKS = 'true';

const T = { timeout: 180_000 };
const BOB = { email: 'bob@corp.example', name: 'Bob Federated' };

/** oidc-provider on a free port, with one client: Tessera's connection `slug`. */
async function startOidcProvider(tessera, slug) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'tessera',
      client_secret: 'a-secret-of-the-foreign-provider',
      redirect_uris: [`${tessera.issuer}/upstream/${slug}/callback`],
    }],
    claims: { email: ['email', 'email_verified'], profile: ['name'] },
    // Its development pages: any login with any password; the login is the account id.
    findAccount: (ctx, id) => ({
      accountId: id,
      claims: () => ({ sub: id, email: id, email_verified: true, name: BOB.name }),
    }),
    cookies: { keys: ['e2e-only-cookie-key'] },
  });
  const server = http.createServer(provider.callback());
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  // Browsers and Tessera keep their connections open: close them rather than wait.
  return { issuer, close: () => new Promise((resolve) => { server.close(resolve); server.closeAllConnections(); }) };
}

/** tests/saml_idp.py in the Python of .venv-services (scripts/services.sh). */
async function startSamlIdp() {
  const python = process.env.TESSERA_TEST_PYTHON || path.join(REPO_ROOT, '.venv-services', 'bin', 'python');
  const child = spawn(python, [path.join(REPO_ROOT, 'tests', 'saml_idp.py')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = await once(createInterface({ input: child.stdout }), 'line');
  const base = line.replace(/^listening /, '');
  assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/, `the SAML IdP did not start: ${line}`);
  return { base, close: () => child.kill('SIGTERM') };
}

/** Presses the connection's button on Tessera's sign-in page (reached from the RP). */
async function pressButton(page, rp, js, name) {
  await startAtRp(page, rp);
  await settle(page, js);
  await page.getByRole('button', { name: `Continue with ${name}`, exact: true }).click();
}

/** The RP got Bob's ID token and userinfo, through Tessera's consent. */
async function bobArrives(page, rp, js) {
  await answerConsent(page, { js, decision: 'Allow' });
  const result = await rpResult(page, rp);
  assert.equal(result.error, null, `RP reported an error: ${result.error}\n${result.detail}`);
  assert.equal(result.email, BOB.email);
}

describe('signing in with another provider', () => {
  for (const js of [true, false]) {
    const mode = js ? 'with JavaScript' : 'without JavaScript';

    test(`${mode}: through a foreign OpenID Connect provider (oidc-provider)`, T, () =>
      withTessera(`upstream oidc ${mode}`, { javaScriptEnabled: js, host: 'localhost' }, async ({ page, tessera, rp }) => {
        const op = await startOidcProvider(tessera, 'node');
        try {
          await runCli(['connection', 'create', '--tenant', 'default', '--preset', 'oidc', '--slug', 'node',
            '--name', 'Node OP', '--issuer', op.issuer, '--client-id', 'tessera', '--provisioning'],
          { ...tessera.env, TESSERA_CONNECTION_CLIENT_SECRET: 'a-secret-of-the-foreign-provider' });
          await pressButton(page, rp, js, 'Node OP');
          await page.waitForURL((url) => url.origin === op.issuer);
          await page.locator('input[name=login]').fill(BOB.email);
          await page.locator('input[name=password]').fill('any password will do');
          await page.getByRole('button', { name: 'Sign-in' }).click();
          await page.getByRole('button', { name: 'Continue' }).click();
          await bobArrives(page, rp, js);
        } finally {
          await op.close();
        }
      }));

    test(`${mode}: through a SAML 2.0 identity provider (pysaml2)`, T, () =>
      withTessera(`upstream saml ${mode}`, { javaScriptEnabled: js, host: 'localhost' }, async ({ page, tessera, rp }) => {
        const idp = await startSamlIdp();
        try {
          const metadata = path.join(tessera.tmp, 'idp-metadata.xml');
          await writeFile(metadata, await (await fetch(`${idp.base}/metadata`)).text());
          await runCli(['connection', 'create', '--tenant', 'default', '--preset', 'saml', '--slug', 'corp',
            '--name', 'Corp SSO', '--metadata', metadata, '--provisioning'], tessera.env);
          const sp = await fetch(`${tessera.issuer}/upstream/corp/metadata`);
          assert.equal(sp.headers.get('content-type'), 'application/samlmetadata+xml');
          const registered = await fetch(`${idp.base}/sp`, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: await sp.text() });
          assert.equal(registered.status, 204);

          await pressButton(page, rp, js, 'Corp SSO');
          await page.waitForURL((url) => url.origin === idp.base);
          await page.getByLabel('Email', { exact: true }).fill(BOB.email);
          await page.getByLabel('Name', { exact: true }).fill(BOB.name);
          await page.getByRole('button', { name: 'Sign in', exact: true }).click();
          // Its page posts the Response to the ACS: by itself with JavaScript, by a press without.
          if (!js) await page.getByRole('button', { name: 'Continue' }).click();
          await bobArrives(page, rp, js);
        } finally {
          idp.close();
        }
      }));
  }
});
