// Passkeys (WebAuthn): the one part of Tessera that needs script. Buttons marked data-passkey
// are hidden in the HTML; this shows them where the browser can use passkeys, and otherwise
// shows the data-passkey-unsupported message. Every server answer is either WebAuthn options
// or the page to open next, so messages live in the pages.
//
// Passkey autofill: where the sign-in page's email field asks for it (autocomplete
// "username webauthn"), a request with conditional mediation (WebAuthn Level 3 §5.1.4,
// Credential Management §2.3.2) waits in the background, and the browser offers the person's
// passkeys as they focus the field; picking one signs in, without the password step.
(() => {
  'use strict';
  const supported = Boolean(window.PublicKeyCredential && navigator.credentials);

  const fromB64u = (s) => {
    const b64 = s.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(s.length / 4) * 4, '=');
    return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
  };
  const toB64u = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
    .replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

  function show() {
    for (const el of document.querySelectorAll('[data-passkey]')) el.hidden = !supported;
    for (const el of document.querySelectorAll('[data-passkey-unsupported]')) el.hidden = supported;
  }

  function status(button, text) {
    const box = button.closest('form, div, section')?.querySelector('[data-passkey-status]');
    if (box) { box.textContent = text; box.hidden = false; }
  }

  // `follow`: open the page the server names instead of answering (false for a request nobody
  // asked for, such as the autofill's, which must never move the person off the page).
  async function post(url, body, follow = true) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      credentials: 'same-origin',
      body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (data.redirect) { if (follow) window.location.assign(data.redirect); return null; }
    if (!res.ok) throw new Error(data.request_id ? `request id ${data.request_id}` : `HTTP ${res.status}`);
    return data;
  }

  // `autofill`: an AbortSignal, for a request that waits for the person to pick a passkey
  // in the email field's suggestions rather than asking in a dialog.
  async function signIn(button, autofill) {
    const { tenant, csrf } = button.dataset;
    const base = `/t/${encodeURIComponent(tenant)}/passkeys/sign-in`;
    const started = await post(`${base}/options`, { flow: button.dataset.flow || '', csrf }, !autofill);
    if (!started) return;
    const options = started.options.publicKey;
    options.challenge = fromB64u(options.challenge);
    for (const c of options.allowCredentials || []) c.id = fromB64u(c.id);
    const request = autofill
      ? { publicKey: options, mediation: 'conditional', signal: autofill }
      : { publicKey: options };
    const credential = await navigator.credentials.get(request);
    const r = credential.response;
    await post(base, {
      flow: started.flow,
      csrf,
      credential: {
        id: credential.id,
        rawId: toB64u(credential.rawId),
        type: credential.type,
        response: {
          authenticatorData: toB64u(r.authenticatorData),
          clientDataJSON: toB64u(r.clientDataJSON),
          signature: toB64u(r.signature),
          userHandle: r.userHandle ? toB64u(r.userHandle) : null,
        },
        extensions: credential.getClientExtensionResults(),
      },
    });
  }

  async function register(button) {
    const { tenant, csrf } = button.dataset;
    const nameField = document.getElementById('passkey-name');
    const name = nameField ? nameField.value.trim() : '';
    if (!name) { status(button, 'Give the passkey a name first, like "Work laptop".'); nameField?.focus(); return; }
    const base = `/t/${encodeURIComponent(tenant)}/passkeys/register`;
    const started = await post(`${base}/options`, { csrf });
    if (!started) return;
    const options = started.options.publicKey;
    options.challenge = fromB64u(options.challenge);
    options.user.id = fromB64u(options.user.id);
    for (const c of options.excludeCredentials || []) c.id = fromB64u(c.id);
    const credential = await navigator.credentials.create({ publicKey: options });
    const r = credential.response;
    await post(base, {
      csrf,
      name,
      credential: {
        id: credential.id,
        rawId: toB64u(credential.rawId),
        type: credential.type,
        response: {
          attestationObject: toB64u(r.attestationObject),
          clientDataJSON: toB64u(r.clientDataJSON),
          transports: typeof r.getTransports === 'function' ? r.getTransports() : undefined,
        },
        extensions: credential.getClientExtensionResults(),
      },
    });
  }

  // The pending autofill request: its email field and what aborts it.
  let autofill = null;
  // Under the five minutes a sign-in ceremony lives on the server (src/auth/passkeys.rs).
  const RENEW_AUTOFILL_MS = 4 * 60 * 1000;

  function stopAutofill() {
    autofill?.controller.abort();
    autofill = null;
  }

  async function startAutofill() {
    if (autofill && !autofill.field.isConnected) stopAutofill();
    const field = document.querySelector('input[autocomplete~="webauthn"]');
    const button = field?.closest('section')?.querySelector('button[data-passkey="sign-in"]');
    if (!supported || !button || autofill) return;
    const controller = new AbortController();
    autofill = { field, controller };
    let renew;
    try {
      if (!(await PublicKeyCredential.isConditionalMediationAvailable?.())) return;
      // The server keeps a challenge for five minutes: a person who picks a passkey later
      // gets a fresh request, not a refusal.
      renew = setTimeout(() => {
        if (autofill?.controller !== controller) return;
        stopAutofill();
        startAutofill();
      }, RENEW_AUTOFILL_MS);
      await signIn(button, controller.signal);
    } catch (e) {
      // Aborted (the person chose the button, or left the page), or the browser gave up:
      // the page works as before, with the button and the email field.
      if (!controller.signal.aborted) console.info('passkey autofill ended:', e && e.name);
    } finally {
      clearTimeout(renew);
    }
  }

  document.addEventListener('click', async (event) => {
    const button = event.target.closest('button[data-passkey]');
    if (!button) return;
    event.preventDefault();
    // A browser runs one WebAuthn request at a time: the dialog replaces the autofill.
    if (button.dataset.passkey === 'sign-in') stopAutofill();
    button.disabled = true;
    try {
      await (button.dataset.passkey === 'register' ? register(button) : signIn(button));
    } catch (e) {
      const cancelled = e && (e.name === 'NotAllowedError' || e.name === 'AbortError');
      status(button, cancelled
        ? 'The passkey was not used. Try again, or choose another way.'
        : `The passkey could not be used (${e && e.message ? e.message : e}). Try again, or choose another way.`);
    } finally {
      button.disabled = false;
    }
  });

  function update() {
    show();
    startAutofill();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', update);
  else update();
  // Pages the app renders later (client-side navigation) get their buttons shown, and their
  // email field its autofill, too.
  new MutationObserver(update).observe(document.documentElement, { childList: true, subtree: true });
})();
