// Passkeys in the browser: signing in from the email page, adding one on the account page.
// The WebAuthn calls go through @simplewebauthn/browser (served at /assets/simplewebauthn-browser.js
// as the global SimpleWebAuthnBrowser). Every check happens on the server; this file only carries
// the challenge to the authenticator and its answer back, in the `response` field of a normal form.
(function () {
  'use strict';

  var lib = window.SimpleWebAuthnBrowser;
  if (!lib || !lib.browserSupportsWebAuthn()) return;

  // The page's words (data-msg-* on the form, in the page's language); English when a page has none.
  function say(form, name, english) {
    var text = form.getAttribute('data-msg-' + name);
    return text || english;
  }

  function csrfOf(form) {
    var input = form.querySelector('input[name="_csrf"]');
    return input ? input.value : '';
  }

  // A fresh challenge from the server (single use, bound to this sign-in or account session).
  function fetchOptions(form) {
    return fetch(form.getAttribute('data-options-url'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'csrf-token': csrfOf(form), accept: 'application/json' },
      body: '{}',
    }).then(function (response) {
      return response.json().then(
        function (body) {
          if (!response.ok) throw new Error(body && body.message ? body.message : say(form, 'start-failed', 'Sesame could not start the passkey request. Reload the page and try again.'));
          return body;
        },
        function () {
          throw new Error(say(form, 'start-failed', 'Sesame could not start the passkey request. Reload the page and try again.'));
        },
      );
    });
  }

  // What the person reads when the browser or authenticator said no.
  function describe(form, error, creating) {
    var name = error && error.name;
    if (name === 'NotAllowedError') return say(form, 'cancelled', 'The passkey request was cancelled or timed out.');
    if (name === 'InvalidStateError' && creating) return say(form, 'exists', 'This device already has a passkey for your account.');
    if (name === 'SecurityError') return say(form, 'refused', 'This browser refused the passkey request for this address.');
    if (error && error.message && !name) return error.message;
    if (error && error.message && name === 'Error') return error.message;
    return say(form, 'failed', creating ? 'The passkey could not be created. Try again.' : 'The passkey could not be used. Try again.');
  }

  function submitWith(form, answer) {
    form.querySelector('input[name="response"]').value = JSON.stringify(answer);
    form.submit();
  }

  // Email page: a button, and the address field's autofill (conditional UI) where supported.
  function enhanceSignIn(form) {
    var button = form.querySelector('[data-passkey-start]');
    var status = form.querySelector('[data-passkey-status]');
    var busy = false;
    form.hidden = false;

    function autofill() {
      lib.browserSupportsWebAuthnAutofill().then(function (supported) {
        if (!supported) return;
        fetchOptions(form)
          .then(function (options) {
            return lib.startAuthentication({ optionsJSON: options, useBrowserAutofill: true });
          })
          .then(function (answer) {
            submitWith(form, answer);
          })
          .catch(function () {
            // Aborted by the button's own request, or the page is going away: nothing to say.
          });
      });
    }

    button.addEventListener('click', function () {
      if (busy) return;
      busy = true;
      button.setAttribute('aria-busy', 'true');
      status.textContent = '';
      fetchOptions(form)
        .then(function (options) {
          return lib.startAuthentication({ optionsJSON: options });
        })
        .then(function (answer) {
          status.textContent = say(form, 'working', 'Signing you in…');
          submitWith(form, answer);
        })
        .catch(function (error) {
          busy = false;
          button.removeAttribute('aria-busy');
          status.textContent = describe(form, error, false);
          autofill();
        });
    });

    autofill();
  }

  // Account page: "Add a passkey" asks the authenticator, then posts the name and its answer.
  function enhanceRegister(form) {
    var status = form.querySelector('[data-passkey-status]');
    var button = form.querySelector('button[type="submit"]');
    var unsupported = document.querySelector('[data-passkey-unsupported]');
    if (unsupported) unsupported.hidden = true;
    form.hidden = false;

    // Our own flag: sesame.js marks the submitter aria-busy on every submit (double-submit guard).
    var busy = false;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (busy) return;
      if (!form.reportValidity()) return;
      busy = true;
      button.setAttribute('aria-busy', 'true');
      status.textContent = say(form, 'prompt', 'Follow your browser’s prompt to create the passkey…');
      fetchOptions(form)
        .then(function (options) {
          return lib.startRegistration({ optionsJSON: options });
        })
        .then(function (answer) {
          status.textContent = say(form, 'working', 'Saving…');
          submitWith(form, answer);
        })
        .catch(function (error) {
          busy = false;
          button.removeAttribute('aria-busy');
          form.removeAttribute('data-submitting');
          status.textContent = describe(form, error, true);
        });
    });
  }

  function init() {
    var i;
    var signIns = document.querySelectorAll('form[data-passkey-signin]');
    for (i = 0; i < signIns.length; i++) enhanceSignIn(signIns[i]);
    var registers = document.querySelectorAll('form[data-passkey-register]');
    for (i = 0; i < registers.length; i++) enhanceRegister(registers[i]);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
