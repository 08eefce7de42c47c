// Shared set-up for a test file: Tessera + relying party, and a wrapper that
// prints diagnostics (server output, page URL and HTML, browser errors) when a test fails.
import { after, before } from 'node:test';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openBrowser } from './browser.js';
import { startRp } from './rp.js';
import { CLIENT, freePort, startTessera } from './server.js';

export { CLIENT, TENANT, USER } from './server.js';

const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'test-results');

export function useTessera() {
  const env = {};
  before(async () => {
    const rpPort = await freePort();
    env.tessera = await startTessera({ rpPort });
    try {
      env.rp = await startRp({ issuer: env.tessera.issuer, clientId: CLIENT.id, clientSecret: env.tessera.clientSecret, port: rpPort });
    } catch (e) {
      process.stderr.write(`\n--- tessera server output ---\n${env.tessera.tail()}\n`);
      await env.tessera.stop();
      env.tessera = undefined;
      throw e;
    }
  });
  after(async () => {
    await env.rp?.close();
    await env.tessera?.stop();
  });

  /** Runs `fn({ page, errors, tessera, rp })` in a fresh browser; on failure prints diagnostics. */
  env.withBrowser = async (name, options, fn) => {
    const browser = await openBrowser(options);
    const rpLogStart = env.rp?.log.length ?? 0;
    const rpResultsStart = env.rp?.results.length ?? 0;
    const serverLogStart = env.tessera?.lines() ?? 0;
    try {
      await fn({ ...browser, tessera: env.tessera, rp: env.rp });
    } catch (e) {
      let html = '';
      let url = '';
      try { url = browser.page.url(); html = await browser.page.content(); } catch { /* page gone */ }
      const safe = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
      try {
        await mkdir(RESULTS_DIR, { recursive: true });
        await browser.page.screenshot({ path: path.join(RESULTS_DIR, `${safe}.png`), fullPage: true });
        await writeFile(path.join(RESULTS_DIR, `${safe}.html`), html);
        await writeFile(path.join(RESULTS_DIR, `${safe}.server.log`), env.tessera?.output() ?? '');
      } catch { /* best effort */ }
      process.stderr.write([
        '',
        `======== FAILED: ${name} ========`,
        `page URL: ${url}`,
        `browser errors:\n${browser.errors.join('\n') || '(none)'}`,
        `relying party requests during this test:\n${env.rp?.log.slice(rpLogStart).join('\n') || '(none)'}`,
        `relying party results during this test:\n${JSON.stringify(env.rp?.results.slice(rpResultsStart) ?? [], null, 2)}`,
        `page HTML (first 4000 chars):\n${html.slice(0, 4000)}`,
        `--- tessera server output during this test (up to 300 lines) ---\n${env.tessera?.since(serverLogStart, 300) || '(nothing)'}`,
        `(screenshot, HTML and full server log in end2end/test-results/${safe}.*)`,
        '',
      ].join('\n'));
      throw e;
    } finally {
      await browser.close();
    }
  };
  return env;
}
