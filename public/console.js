// Copy buttons of the console (data-copy="<id of the field, or of the <code>, to copy>"). They
// are hidden in the HTML and shown only where the clipboard can be used; without script the
// field stays there to select and copy by hand.
(() => {
  'use strict';
  const canCopy = Boolean(navigator.clipboard && window.isSecureContext);

  function show() {
    for (const el of document.querySelectorAll('[data-copy]')) el.hidden = !canCopy;
  }

  document.addEventListener('click', async (event) => {
    const button = event.target.closest('[data-copy]');
    if (!button) return;
    const field = document.getElementById(button.dataset.copy);
    if (!field) return;
    try {
      await navigator.clipboard.writeText('value' in field ? field.value : field.textContent);
      button.textContent = 'Copied';
    } catch {
      if (field.select) field.select();
      button.textContent = 'Press Ctrl+C to copy';
    }
  });

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', show);
  else show();
  new MutationObserver(show).observe(document.documentElement, { childList: true, subtree: true });
})();
