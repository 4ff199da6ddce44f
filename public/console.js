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
