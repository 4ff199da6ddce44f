// Progressive enhancement for the Sesame sign-in pages. Every page works without this file;
// the server enforces everything (resend cooldown, code format, CSRF) on its own.
(function () {
  'use strict';

  // Resend cooldown: a disabled button with data-countdown="N" counts down and re-enables at 0.
  function startCountdown(button) {
    var seconds = parseInt(button.getAttribute('data-countdown') || '0', 10);
    var label = button.getAttribute('data-label') || button.textContent || '';
    var valueEl = button.querySelector('[data-countdown-value]');
    // Count against the clock rather than ticks so a throttled background tab stays accurate.
    var endsAt = Date.now() + seconds * 1000;

    function finish() {
      button.textContent = label;
      button.disabled = false;
      button.removeAttribute('data-countdown');
    }

    if (!(seconds > 0)) {
      finish();
      return;
    }

    var timer = setInterval(function () {
      var left = Math.ceil((endsAt - Date.now()) / 1000);
      if (left <= 0) {
        clearInterval(timer);
        finish();
        return;
      }
      if (valueEl) valueEl.textContent = String(left);
      button.setAttribute('data-countdown', String(left));
    }, 1000);
  }

  // Full-width digits (Japanese/Chinese input methods) and Arabic-Indic ones become 0-9, as the server reads them.
  function asciiDigits(text) {
    return text.replace(/[\uFF10-\uFF19\u0660-\u0669\u06F0-\u06F9]/g, function (digit) {
      var code = digit.charCodeAt(0);
      return String(code - (code >= 0xff10 ? 0xff10 : code >= 0x06f0 ? 0x06f0 : 0x0660));
    });
  }

  // The code field keeps digits only, so "123 456" or "123-456" pasted from a mail client still works.
  function enhanceCodeInput(input) {
    var max = parseInt(input.getAttribute('maxlength') || '6', 10);

    input.addEventListener('paste', function (event) {
      var data = event.clipboardData && event.clipboardData.getData('text');
      if (!data) return;
      event.preventDefault();
      input.value = asciiDigits(data).replace(/\D+/g, '').slice(0, max);
      input.dispatchEvent(new Event('input', { bubbles: true }));
    });

    input.addEventListener('input', function () {
      var digits = asciiDigits(input.value).replace(/\D+/g, '').slice(0, max);
      if (digits !== input.value) input.value = digits;
    });
  }

  // Ignore a second submit of the same form (double clicks). The button is not disabled because a
  // disabled submitter would drop its name/value (e.g. logout=yes) from the request.
  function guardDoubleSubmit(form) {
    form.addEventListener('submit', function (event) {
      if (form.getAttribute('data-submitting') === 'true') {
        event.preventDefault();
        return;
      }
      form.setAttribute('data-submitting', 'true');
      var submitter = event.submitter;
      if (submitter && submitter.classList.contains('btn')) submitter.setAttribute('aria-busy', 'true');
      // If the navigation is cancelled or the page is restored from the back/forward cache, allow again.
      setTimeout(function () {
        form.removeAttribute('data-submitting');
        if (submitter) submitter.removeAttribute('aria-busy');
      }, 8000);
    });
  }

  function init() {
    var i;
    var countdowns = document.querySelectorAll('button[data-countdown]');
    for (i = 0; i < countdowns.length; i++) startCountdown(countdowns[i]);

    var codeInputs = document.querySelectorAll('input[data-code-input]');
    for (i = 0; i < codeInputs.length; i++) enhanceCodeInput(codeInputs[i]);

    var forms = document.querySelectorAll('form');
    for (i = 0; i < forms.length; i++) guardDoubleSubmit(forms[i]);

    // Sign-out towards a registered return address needs no click: submit the provider's form now.
    var auto = document.querySelector('[data-autosubmit]');
    var target = auto && document.getElementById(auto.getAttribute('data-autosubmit'));
    if (target && typeof target.requestSubmit === 'function') target.requestSubmit();
    else if (target) target.submit();
  }

  window.addEventListener('pageshow', function (event) {
    if (!event.persisted) return;
    var busy = document.querySelectorAll('form[data-submitting]');
    for (var i = 0; i < busy.length; i++) busy[i].removeAttribute('data-submitting');
    var buttons = document.querySelectorAll('[aria-busy="true"]');
    for (var j = 0; j < buttons.length; j++) buttons[j].removeAttribute('aria-busy');
  });

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', init);
  } else {
    init();
  }
})();
