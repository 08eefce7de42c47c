// Accessibility smoke test of the sign-in page.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { USER, withTessera } from '../support/fixture.js';
import { startAtRp, waitHydrated } from '../support/flows.js';

/**
 * Inputs a user can see or reach that have no label (by <label>, aria-label or aria-labelledby).
 * Inputs hidden from everyone (type=hidden, the hidden attribute, aria-hidden="true" — e.g. a
 * username hint for password managers) need none.
 */
async function unlabelledInputs(page) {
  return page.evaluate(() => {
    const bad = [];
    for (const el of document.querySelectorAll('input, select, textarea')) {
      if (['hidden', 'submit', 'button'].includes(el.type)) continue;
      if (el.hidden || el.closest('[aria-hidden="true"]') || !el.checkVisibility()) continue;
      const byLabel = [...(el.labels ?? [])].some((l) => l.textContent.trim() !== '');
      const byAria = (el.getAttribute('aria-label') ?? '').trim() !== '';
      const byRef = (el.getAttribute('aria-labelledby') ?? '').split(/\s+/).filter(Boolean)
        .some((id) => (document.getElementById(id)?.textContent ?? '').trim() !== '');
      if (!byLabel && !byAria && !byRef) bad.push(el.outerHTML);
    }
    return bad;
  });
}

/** Presses Tab until an input has focus; returns that input's name/type (or null). */
async function firstTabbedInput(page) {
  for (let i = 0; i < 25; i += 1) {
    await page.keyboard.press('Tab');
    const active = await page.evaluate(() => {
      const el = document.activeElement;
      return el ? { tag: el.tagName, type: el.getAttribute('type'), name: el.getAttribute('name'), html: el.outerHTML.slice(0, 200) } : null;
    });
    if (active && ['INPUT', 'SELECT', 'TEXTAREA'].includes(active.tag)) return active;
  }
  return null;
}

describe('accessibility of the sign-in page', () => {
  test('every input has a label and Tab reaches the email input first', { timeout: 120_000 }, () =>
    withTessera('accessibility', { javaScriptEnabled: true }, async ({ page, rp }) => {
      await startAtRp(page, rp);
      await waitHydrated(page);

      assert.deepEqual(await unlabelledInputs(page), [], 'inputs without a label on the email step');
      const email = page.getByLabel('Email address', { exact: true });
      assert.equal(await email.count(), 1, 'exactly one control labelled "Email address"');
      assert.equal(await email.getAttribute('name'), 'email');

      const first = await firstTabbedInput(page);
      assert.ok(first, 'pressing Tab never focused an input');
      assert.equal(first.name, 'email', `first input reached with Tab: ${first.html}`);

      // The password step must be labelled too.
      await email.fill(USER.email);
      await page.getByRole('button', { name: 'Continue', exact: true }).click();
      const pw = page.getByLabel('Password', { exact: true });
      await pw.waitFor({ state: 'visible' });
      assert.deepEqual(await unlabelledInputs(page), [], 'inputs without a label on the password step');
    }));
});
