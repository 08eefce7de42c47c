// Set-up for one test: a fresh Tessera (own SQLite database, so no remembered
// consent or login throttling leaks between tests), a relying party and a fresh
// browser. On failure it prints diagnostics: page URL and HTML, browser errors,
// the relying party's requests and results, and the server output.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openBrowser } from './browser.js';
import { startRp } from './rp.js';
import { CLIENT, freePort, startTessera } from './server.js';

export { CLIENT, TENANT, USER } from './server.js';

const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'test-results');

/**
 * Runs `fn({ page, errors, context, tessera, rp })`; `options` go to openBrowser
 * (javaScriptEnabled), except `host`, the name Tessera is reached by (default 127.0.0.1).
 */
export async function withTessera(name, options, fn) {
  const rpPort = await freePort();
  const tessera = await startTessera({ rpPort, host: options.host });
  let rp;
  let browser;
  try {
    rp = await startRp({ issuer: tessera.issuer, clientId: CLIENT.id, clientSecret: tessera.clientSecret, port: rpPort });
    browser = await openBrowser(options);
    await fn({ ...browser, tessera, rp });
  } catch (e) {
    let html = '';
    let url = '';
    try { url = browser.page.url(); html = await browser.page.content(); } catch { /* no page */ }
    const safe = name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
    try {
      await mkdir(RESULTS_DIR, { recursive: true });
      await writeFile(path.join(RESULTS_DIR, `${safe}.server.log`), tessera.output());
      await writeFile(path.join(RESULTS_DIR, `${safe}.html`), html);
      await browser?.page.screenshot({ path: path.join(RESULTS_DIR, `${safe}.png`), fullPage: true });
    } catch { /* best effort */ }
    process.stderr.write([
      '',
      `======== FAILED: ${name} ========`,
      `page URL: ${url || '(no page)'}`,
      `browser errors:\n${browser?.errors.join('\n') || '(none)'}`,
      `relying party requests:\n${rp?.log.join('\n') || '(none)'}`,
      `relying party results:\n${JSON.stringify(rp?.results ?? [], null, 2)}`,
      `page HTML (first 4000 chars):\n${html.slice(0, 4000)}`,
      `--- tessera server output (last 300 lines) ---\n${tessera.tail(300) || '(nothing)'}`,
      `(screenshot, HTML and full server log in end2end/test-results/${safe}.*)`,
      '',
    ].join('\n'));
    throw e;
  } finally {
    await browser?.close();
    await rp?.close();
    await tessera.stop();
  }
}
