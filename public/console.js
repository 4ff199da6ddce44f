// The admin console's only script (served from /assets, so the CSP needs no inline script): copy
// buttons. Every page works without it; the values are on the page to select by hand.
document.addEventListener('click', async (event) => {
  const button = event.target instanceof Element ? event.target.closest('[data-copy]') : null;
  if (!button) return;
  const source = document.getElementById(button.getAttribute('data-copy'));
  if (!source) return;
  const label = button.firstChild;
  const original = label.textContent;
  try {
    await navigator.clipboard.writeText(source.textContent.trim());
    label.textContent = 'Copied';
  } catch {
    // No clipboard (plain http on another host, or permission refused): select the text instead.
    const range = document.createRange();
    range.selectNodeContents(source);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    label.textContent = 'Press Ctrl+C';
  }
  setTimeout(() => {
    label.textContent = original;
  }, 2000);
});

// The sign-in experience's preview follows the form as it changes (the "Update preview" button does
// the same without JavaScript): the frame loads the preview route with the draft settings.
for (const form of document.querySelectorAll('form[data-preview]')) {
  const frame = document.getElementById(form.getAttribute('data-preview'));
  if (!frame) continue;
  let timer;
  const update = () => {
    const params = new URLSearchParams(new FormData(form));
    params.delete('_csrf');
    const url = `${form.querySelector('[data-preview-button]').getAttribute('formaction')}?${params}`;
    if (frame.getAttribute('src') !== url) frame.setAttribute('src', url);
  };
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(update, 250);
  };
  form.addEventListener('input', schedule);
  form.addEventListener('change', schedule);
  // The step select sits outside the form element (form="..."): it does not bubble to the form.
  for (const outside of document.querySelectorAll(`[form="${form.id}"]`)) outside.addEventListener('change', schedule);
}

// The Email page's TLS line follows the port as it is typed (the server words it, in data-tls-*).
for (const form of document.querySelectorAll('form[data-tls]')) {
  const port = form.querySelector('[data-tls-port]');
  const note = form.querySelector('[data-tls-other]');
  const line = form.querySelector('[data-tls-text]');
  if (!port || !note || !line) continue;
  port.addEventListener('input', () => {
    const n = Number(port.value);
    line.textContent = n === 465 || n === 587 ? note.getAttribute(`data-tls-${n}`) : note.getAttribute('data-tls-other').replace('{port}', port.value || '…');
  });
}
