import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createViews } from '../../src/http/views.ts';

// The app's own renderer (auto-escaping on, pages rooted at templates/pages), not a copy of its settings.
const views = createViews(fileURLToPath(new URL('../../templates/pages', import.meta.url)), false);

const hostile = '<script>x</script>@a.b';
const common = { productName: 'Sesame', csrfToken: 'csrf-token-123', appName: 'Bookstore' };
const providerForm =
  '<form id="op.logoutForm" method="post" action="/oidc/session/end/confirm"><input type="hidden" name="xsrf" value="xsrf-1"/></form>';

const samples: Record<string, { template: string; data: Record<string, unknown> }> = {
  email: {
    template: 'email',
    data: { ...common, title: 'Sign in', action: '/interaction/abc/email', email: hostile, passwordUrl: '/interaction/abc/password' },
  },
  code: {
    template: 'code',
    data: {
      ...common,
      title: 'Check your email',
      action: '/interaction/abc/code',
      email: hostile,
      error: 'That code is not right.',
      attemptsLeft: 2,
      resendAction: '/interaction/abc/resend',
      resendInSeconds: 42,
      restartUrl: '/interaction/abc',
      cancelAction: '/interaction/abc/cancel',
    },
  },
  codeDead: {
    template: 'code',
    data: {
      ...common,
      title: 'Check your email',
      action: '/interaction/abc/code',
      email: 'ada@example.com',
      codeDead: true,
      resendAction: '/interaction/abc/resend',
      resendInSeconds: 0,
      restartUrl: '/interaction/abc',
      cancelAction: '/interaction/abc/cancel',
    },
  },
  consent: {
    template: 'consent',
    data: {
      ...common,
      appName: '<b>Evil</b> App',
      title: 'Allow access',
      action: '/interaction/abc/consent',
      email: hostile,
      scopes: [
        { name: 'openid', description: 'Sign you in' },
        { name: 'email', description: 'See your email address' },
      ],
    },
  },
  logout: { template: 'logout', data: { ...common, title: 'Sign out?', providerForm } },
  link: { template: 'link', data: { ...common, appName: '<b>Evil</b> App', title: 'Finish in your other browser', email: hostile, code: '012345', minutesLeft: 7 } },
  signedOut: { template: 'signed-out', data: { ...common, title: 'You have been signed out' } },
  error: {
    template: 'error',
    data: {
      ...common,
      appName: undefined,
      title: 'This link is not valid',
      message: `We could not continue with ${hostile}.`,
      details: 'invalid_redirect_uri',
      backUrl: '/',
    },
  },
  devMail: {
    template: 'dev-mail',
    data: {
      ...common,
      appName: undefined,
      title: `Dev mailbox: ${hostile}`,
      to: hostile,
      smtp: '127.0.0.1:2525',
      maxFilterLength: 320,
      jsonUrl: `/dev/mail.json?to=${encodeURIComponent(hostile)}`,
      messages: [
        {
          id: '00000000-0000-4000-8000-000000000001',
          subject: `Your code for ${hostile}`,
          code: '654321',
          to: hostile,
          from: 'Sesame <no-reply@sesame.test>',
          date: '2025-01-02T03:04:05.000Z',
          received: '2025-01-02 03:04:05',
          text: `Code 654321 for ${hostile}`,
          html: `<!DOCTYPE html><p class="x">${hostile}</p>`,
        },
        { id: '00000000-0000-4000-8000-000000000002', subject: '', to: 'a@b.c', from: 'x@y.z', date: '', received: '', text: 'plain only' },
      ],
    },
  },
};

function render(name: string, overrides: Record<string, unknown> = {}): string {
  const sample = samples[name];
  if (!sample) throw new Error(`no sample named ${name}`);
  return views.render(sample.template, { title: '', ...sample.data, ...overrides });
}

function formsIn(html: string): string[] {
  return html.match(/<form\b[\s\S]*?<\/form>/g) ?? [];
}

describe('sign-in page templates', () => {
  for (const name of Object.keys(samples)) {
    describe(name, () => {
      const html = render(name);

      it('renders a complete page inside the layout', () => {
        expect(html.startsWith('<!doctype html>')).toBe(true);
        expect(html).toContain('<html lang="en" dir="ltr">');
        expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
        expect(html).toContain('<link rel="stylesheet" href="/assets/sesame.css">');
        expect(html).toContain('<script src="/assets/sesame.js" defer></script>');
        expect(html).toContain('Secured by Sesame');
        expect(html.match(/<h1\b/g)).toHaveLength(1);
        expect(html).toMatch(/<title>[^<]+ · Sesame<\/title>/);
      });

      it('never echoes user input unescaped', () => {
        expect(html).not.toContain(hostile);
        expect(html).not.toContain('<script>x');
        expect(html).not.toContain('<b>Evil</b>');
      });

      it('puts the CSRF token in every form of ours', () => {
        for (const form of formsIn(html)) {
          if (form.includes('id="op.logoutForm"')) continue; // oidc-provider's form carries its own xsrf field
          if (form.includes('method="get"')) continue; // a GET changes nothing (the dev mailbox's filter)
          expect(form).toContain('<input type="hidden" name="_csrf" value="csrf-token-123">');
        }
      });

      it('has nothing the strict CSP would block', () => {
        expect(html).not.toMatch(/\sstyle\s*=/i);
        expect(html).not.toMatch(/<style\b/i);
        expect(html).not.toMatch(/\son[a-z]+\s*=/i);
        expect(html).not.toMatch(/javascript:/i);
        for (const tag of html.match(/<script\b[^>]*>[\s\S]*?<\/script>/gi) ?? []) {
          expect(tag).toMatch(/^<script src="[^"]+" defer><\/script>$/);
        }
      });

      it('ties every visible input to a label', () => {
        for (const input of html.match(/<input\b[^>]*>/g) ?? []) {
          if (input.includes('type="hidden"')) continue;
          const id = /\sid="([^"]+)"/.exec(input)?.[1];
          expect(id).toBeDefined();
          expect(html).toContain(`<label class="label" for="${id}">`);
        }
      });
    });
  }

  it('escapes the hostile email where it is shown', () => {
    expect(render('email')).toContain('value="&lt;script&gt;x&lt;/script&gt;@a.b"');
    expect(render('code')).toContain('<strong class="email">&lt;script&gt;x&lt;/script&gt;@a.b</strong>');
  });
});

describe('email.eta', () => {
  it('asks for the email and offers the app it continues to', () => {
    const html = render('email', { email: 'ada@example.com' });
    expect(html).toContain('<h1 class="title">Sign in</h1>');
    expect(html).toContain('to continue to <strong>Bookstore</strong>');
    expect(html).toContain('action="/interaction/abc/email"');
    expect(html).toMatch(/<input[^>]*name="email"[^>]*type="email"[^>]*autocomplete="email"[^>]*required maxlength="254" autofocus value="ada@example.com"/);
    expect(html).toContain('>Continue</button>');
    expect(html).toContain('href="/interaction/abc/password">Sign in with a password instead</a>');
  });

  it('leaves out the optional parts', () => {
    const html = render('email', { appName: undefined, passwordUrl: undefined, email: undefined });
    expect(html).not.toContain('to continue to');
    expect(html).not.toContain('password instead');
    expect(html).toContain('value=""');
    expect(html).not.toContain('role="alert"');
    expect(html).not.toContain('role="status"');
  });

  it('shows errors and notices in live regions', () => {
    const html = render('email', { error: 'Enter a valid email address.', notice: 'Welcome back.' });
    expect(html).toMatch(/role="alert"[\s\S]*Enter a valid email address\./);
    expect(html).toMatch(/role="status"[\s\S]*Welcome back\./);
    expect(html).toContain('aria-invalid="true"');
  });
});

describe('code.eta', () => {
  it('renders the code form, the tries left and a counting-down resend button', () => {
    const html = render('code');
    expect(html).toContain('Check your email');
    expect(html).toContain('We sent a 6-digit code to');
    expect(html).toMatch(/<input[^>]*name="code"[^>]*inputmode="numeric" autocomplete="one-time-code" pattern="\[0-9\]\{6\}" maxlength="6" required autofocus/);
    expect(html).toContain('>Verify</button>');
    expect(html).toMatch(/role="alert"[\s\S]*That code is not right\.[\s\S]*2 tries left\./);
    expect(html).toMatch(/<button[^>]*disabled data-countdown="42">Resend code in <span data-countdown-value>42<\/span> s<\/button>/);
    expect(html).toContain('action="/interaction/abc/resend"');
    expect(html).toContain('href="/interaction/abc">Use a different email</a>');
    expect(html).toMatch(/action="\/interaction\/abc\/cancel"[\s\S]*>Cancel<\/button>/);
    expect(formsIn(html)).toHaveLength(3);
  });

  it('says "1 try left" in the singular', () => {
    expect(render('code', { attemptsLeft: 1 })).toContain('1 try left.');
  });

  it('enables resend straight away when there is no cooldown', () => {
    const html = render('code', { resendInSeconds: 0 });
    expect(html).not.toContain('data-countdown=');
    expect(html).toMatch(/<button[^>]*>Resend code<\/button>/);
  });

  it('drops the code form and makes a new code the main action once the code is dead', () => {
    const html = render('codeDead');
    expect(html).not.toContain('name="code"');
    expect(html).not.toContain('>Verify</button>');
    expect(html).toContain('can no longer be used');
    expect(html).toMatch(/<button class="btn btn-primary"[^>]*>Send a new code<\/button>/);
    expect(formsIn(html)).toHaveLength(2);
  });
});

describe('consent.eta', () => {
  it('lists the scopes and posts allow or deny', () => {
    const html = render('consent', { appName: 'Bookstore', email: 'ada@example.com' });
    expect(html).toContain('<h1 class="title">Bookstore wants to access your account</h1>');
    expect(html).toContain('ada@example.com');
    expect(html).toContain('See your email address');
    expect(html).toContain('openid');
    const forms = formsIn(html);
    expect(forms).toHaveLength(2);
    expect(forms[0]).toContain('action="/interaction/abc/consent"');
    expect(forms[0]).toContain('name="decision" value="allow"');
    expect(forms[0]).toContain('>Allow</button>');
    expect(forms[1]).toContain('name="decision" value="deny"');
    expect(forms[1]).toContain('>Deny</button>');
  });
});

describe('logout.eta', () => {
  it('renders the provider form raw and the two buttons that submit it', () => {
    const html = render('logout');
    expect(html).toContain(providerForm);
    expect(html).toContain('type="submit" form="op.logoutForm" name="logout" value="yes"');
    expect(html).toMatch(/form="op\.logoutForm"[^>]*>Sign out<\/button>/);
    expect(html).toMatch(/<button class="btn btn-secondary" type="submit" form="op\.logoutForm">Stay signed in<\/button>/);
  });
});

describe('signed-out.eta', () => {
  it('confirms the sign-out and has no forms', () => {
    const html = render('signedOut');
    expect(html).toContain('You have been signed out');
    expect(html).toContain('<strong>Bookstore</strong>');
    expect(formsIn(html)).toHaveLength(0);
  });
});

describe('error.eta', () => {
  it('shows the message, the error code and a way back', () => {
    const html = render('error');
    expect(html).toContain('This link is not valid');
    expect(html).toContain('We could not continue with &lt;script&gt;');
    expect(html).toContain('<code>invalid_redirect_uri</code>');
    expect(html).toContain('href="/">Go back</a>');
  });

  it('leaves out details and the back link when not given', () => {
    const html = render('error', { details: undefined, backUrl: undefined });
    expect(html).not.toContain('<code>');
    expect(html).not.toContain('Go back');
  });
});

describe('dev-mail.eta', () => {
  it('lists each mail with its code, a sandboxed HTML preview and the plain text, all escaped', () => {
    const html = render('devMail');
    expect(html).toContain('<meta http-equiv="refresh" content="5">');
    expect(html).toContain('<link rel="stylesheet" href="/assets/dev-mail.css">');
    expect(html).toContain('<main class="sheet" id="main">');
    expect(html.match(/<article class="mail" id="mail-[0-9a-f-]{36}">/g)).toHaveLength(2);
    expect(html).toContain('<span class="mail-code" title="One-time code found in this mail">654321</span>');
    expect(html).toContain('srcdoc="&lt;!DOCTYPE html&gt;&lt;p class=&quot;x&quot;&gt;&lt;script&gt;');
    expect(html).toContain('<h2 class="mail-subject">(no subject)</h2>');
    expect(html).toMatch(/<details class="mail-text" open>\s*<summary>Plain text<\/summary>\s*<pre>plain only<\/pre>/);
    expect(html).toContain('2 messages to &lt;script&gt;');
    expect(html).toContain('href="/dev/mail">Show all</a>');
  });

  it('says so when there is no mail', () => {
    const html = render('devMail', { to: undefined, messages: [], jsonUrl: '/dev/mail.json' });
    expect(html).toContain('No mail yet.');
    expect(html).toContain('0 messages, newest first.');
    expect(html).not.toContain('Show all');
  });

  it('keeps the sign-in pages on the centred card without a refresh', () => {
    const html = render('email');
    expect(html).toContain('<main class="card" id="main">');
    expect(html).not.toContain('http-equiv="refresh"');
    expect(html).not.toContain('dev-mail.css');
  });
});

describe('link.eta', () => {
  it('shows the code to type where the sign-in started, and nothing that signs in here', () => {
    const html = render('link');
    expect(html).toContain('Finish in your other browser');
    expect(html).toContain('<p class="code-display" aria-labelledby="code-label" data-testid="link-code">012345</p>');
    expect(html).toContain('&lt;b&gt;Evil&lt;/b&gt; App');
    expect(html).toContain('<strong class="email">&lt;script&gt;x&lt;/script&gt;@a.b</strong>');
    expect(html).toContain('within 7 minutes');
    expect(formsIn(html)).toHaveLength(0);
  });
});
