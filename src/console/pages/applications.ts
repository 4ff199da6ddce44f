import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../../config/index.ts';
import { managementIndicator } from '../../management/management-resource.ts';
import { sectionOf, type ConsoleContext, type PageRoute } from '../context.ts';
import { apiErrors, checkUris, pageNumber, text, type FieldErrors } from '../forms.ts';

interface App {
  id: string;
  name: string;
  secret: string;
  type: 'Traditional' | 'MachineToMachine';
  oidcClientMetadata: { redirectUris: string[]; postLogoutRedirectUris: string[] };
  isAdmin: boolean;
  tokenEndpointAuthMethod: string;
  createdAt: number;
}

const PAGE_SIZE = 20;
const TYPES = { traditional: 'Traditional', m2m: 'MachineToMachine' } as const;
/** Which form field an API refusal is about (see forms.ts apiErrors). */
const APP_FIELDS = {
  postLogoutRedirectUris: /postLogoutRedirectUris|post-logout redirect URI/i,
  redirectUris: /redirectUris|redirect URI/i,
  name: /\bname\b/i,
  type: /\btype\b/i,
};

const idOf = (request: FastifyRequest) => encodeURIComponent((request.params as { id: string }).id);

/** The form's values as typed, kept through a refusal. */
function appForm(body: unknown) {
  return {
    name: text(body, 'name'),
    type: text(body, 'type'),
    redirectUris: text(body, 'redirectUris'),
    postLogoutRedirectUris: text(body, 'postLogoutRedirectUris'),
  };
}

function validateApp(form: ReturnType<typeof appForm>, creating: boolean) {
  const errors: FieldErrors = {};
  const name = form.name.trim();
  if (!name) errors.name = 'Give the app a name, as people will see it on the sign-in page.';
  else if (name.length > 128) errors.name = 'At most 128 characters.';
  const type = creating ? TYPES[form.type as keyof typeof TYPES] : undefined;
  if (creating && !type) errors.type = 'Choose what kind of app this is.';
  const machine = type === 'MachineToMachine';
  const redirectUris = machine ? [] : checkUris(form.redirectUris, 'redirectUris', 'redirect URI', errors);
  const postLogoutRedirectUris = machine ? [] : checkUris(form.postLogoutRedirectUris, 'postLogoutRedirectUris', 'post-logout redirect URI', errors);
  if (creating && !machine && type && redirectUris.length === 0 && !errors.redirectUris) errors.redirectUris = 'A web app needs at least one redirect URI: where Sesame sends people back after sign-in.';
  return { errors, name, type, redirectUris, postLogoutRedirectUris };
}

/** What a developer needs to connect an app: Sesame's addresses and a Logto SDK configuration. */
function integration(config: Readonly<Config>, app: App) {
  const machine = app.type === 'MachineToMachine';
  return {
    endpoint: config.endpoint,
    issuer: config.issuer,
    discovery: `${config.issuer}/.well-known/openid-configuration`,
    tokenEndpoint: `${config.issuer}/token`,
    managementApi: managementIndicator(config.endpoint),
    snippet: machine
      ? `# A token by client_credentials (${app.tokenEndpointAuthMethod}), then a call
curl -s ${config.issuer}/token \\
  -d grant_type=client_credentials -d client_id=${app.id} -d client_secret="$APP_SECRET" \\
  -d resource=<your API's indicator>`
      : `// @logto/express (npm install @logto/express)
const config = {
  endpoint: '${config.endpoint}', // Sesame's ENDPOINT, not .../oidc
  appId: '${app.id}',
  appSecret: process.env.LOGTO_APP_SECRET,
  baseUrl: 'http://localhost:3000', // your app; register \${baseUrl}/logto/sign-in-callback above
};`,
  };
}

export function applicationRoutes(scope: FastifyInstance, page: PageRoute, config: Readonly<Config>): void {
  const section = sectionOf('applications');

  scope.get(
    '/console/applications',
    section,
    page(async (request, reply, { api, render }) => {
      const current = pageNumber((request.query as Record<string, unknown>).page);
      const { body, total = 0 } = await api.ok<App[]>('GET', `/applications?page=${current}&page_size=${PAGE_SIZE}`);
      return render(reply, 'applications', {
        title: 'Applications',
        apps: body,
        pager: pager(current, total, '/console/applications?'),
      });
    }),
  );

  const newForm = (reply: Parameters<ConsoleContext['render']>[0], ctx: ConsoleContext, form: ReturnType<typeof appForm>, errors: FieldErrors = {}) =>
    ctx.render(reply, 'application-new', { title: 'New application', form, errors }, Object.keys(errors).length ? 400 : 200);

  scope.get(
    '/console/applications/new',
    section,
    page(async (_request, reply, ctx) => newForm(reply, ctx, { name: '', type: 'traditional', redirectUris: '', postLogoutRedirectUris: '' })),
  );

  scope.post(
    '/console/applications',
    { ...section, preHandler: scope.csrfProtection },
    page(async (request, reply, ctx) => {
      const form = appForm(request.body);
      const checked = validateApp(form, true);
      if (Object.keys(checked.errors).length) return newForm(reply, ctx, form, checked.errors);
      const answer = await ctx.api.call<App>('POST', '/applications', {
        name: checked.name,
        type: checked.type,
        oidcClientMetadata: { redirectUris: checked.redirectUris, postLogoutRedirectUris: checked.postLogoutRedirectUris },
      });
      if (answer.status !== 200) return newForm(reply, ctx, form, apiErrors(answer, APP_FIELDS));
      const app = answer.body;
      return ctx.redirect(reply, `/console/applications/${encodeURIComponent(app.id)}`, { kind: 'secret', applicationId: app.id, secret: app.secret });
    }),
  );

  async function showApp(request: FastifyRequest, reply: Parameters<ConsoleContext['render']>[0], ctx: ConsoleContext, form?: ReturnType<typeof appForm>, errors: FieldErrors = {}) {
    const { body: app } = await ctx.api.ok<App>('GET', `/applications/${idOf(request)}`);
    const flash = ctx.flash;
    return ctx.render(
      reply,
      'application',
      {
        title: app.name,
        app,
        machine: app.type === 'MachineToMachine',
        // The App Secret is shown once, right after it was made (create or rotate); after that only its start.
        newSecret: flash?.kind === 'secret' && flash.applicationId === app.id ? flash.secret : undefined,
        notice: flash?.kind === 'notice' ? flash.text : undefined,
        maskedSecret: `${app.secret.slice(0, 4)}${'•'.repeat(12)}`,
        integration: integration(config, app),
        form: form ?? {
          name: app.name,
          redirectUris: app.oidcClientMetadata.redirectUris.join('\n'),
          postLogoutRedirectUris: app.oidcClientMetadata.postLogoutRedirectUris.join('\n'),
        },
        errors,
      },
      Object.keys(errors).length ? 400 : 200,
    );
  }

  scope.get('/console/applications/:id', section, page(async (request, reply, ctx) => showApp(request, reply, ctx)));

  scope.post(
    '/console/applications/:id',
    { ...section, preHandler: scope.csrfProtection },
    page(async (request, reply, ctx) => {
      const form = appForm(request.body);
      const { body: app } = await ctx.api.ok<App>('GET', `/applications/${idOf(request)}`);
      const checked = validateApp({ ...form, type: app.type === 'MachineToMachine' ? 'm2m' : 'traditional' }, false);
      if (app.type === 'Traditional' && checked.redirectUris.length === 0 && !checked.errors.redirectUris) {
        checked.errors.redirectUris = 'A web app needs at least one redirect URI.';
      }
      if (Object.keys(checked.errors).length) return showApp(request, reply, ctx, form, checked.errors);
      const answer = await ctx.api.call<App>('PATCH', `/applications/${idOf(request)}`, {
        name: checked.name,
        ...(app.type === 'Traditional' && { oidcClientMetadata: { redirectUris: checked.redirectUris, postLogoutRedirectUris: checked.postLogoutRedirectUris } }),
      });
      if (answer.status !== 200) return showApp(request, reply, ctx, form, apiErrors(answer, APP_FIELDS));
      return ctx.redirect(reply, `/console/applications/${idOf(request)}`, { kind: 'notice', text: 'Saved. Sign-ins use the new settings within a few seconds.' });
    }),
  );

  scope.post(
    '/console/applications/:id/secret',
    { ...section, preHandler: scope.csrfProtection },
    page(async (request, reply, ctx) => {
      const { body: app } = await ctx.api.ok<App>('POST', `/applications/${idOf(request)}/secret`);
      return ctx.redirect(reply, `/console/applications/${idOf(request)}`, { kind: 'secret', applicationId: app.id, secret: app.secret });
    }),
  );

  scope.get(
    '/console/applications/:id/delete',
    section,
    page(async (request, reply, ctx) => {
      const { body: app } = await ctx.api.ok<App>('GET', `/applications/${idOf(request)}`);
      return ctx.render(reply, 'confirm-delete', {
        title: `Delete ${app.name}?`,
        what: app.name,
        consequences: ['People can no longer sign in to it, and every token issued to it stops working.', 'Its App ID and App Secret are gone for good; registering it again gives new ones.'],
        action: `/console/applications/${encodeURIComponent(app.id)}/delete`,
        cancel: `/console/applications/${encodeURIComponent(app.id)}`,
      });
    }),
  );

  scope.post(
    '/console/applications/:id/delete',
    { ...section, preHandler: scope.csrfProtection },
    page(async (request, reply, ctx) => {
      const { body: app } = await ctx.api.ok<App>('GET', `/applications/${idOf(request)}`);
      await ctx.api.ok('DELETE', `/applications/${idOf(request)}`);
      return ctx.redirect(reply, '/console/applications', { kind: 'notice', text: `Deleted ${app.name}.` });
    }),
  );
}

/** Previous/next links and "page X of Y" for a list of `total` entries. */
export function pager(current: number, total: number, base: string) {
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  return {
    current,
    pages,
    total,
    previous: current > 1 ? `${base}page=${Math.min(current - 1, pages)}` : undefined,
    next: current < pages ? `${base}page=${current + 1}` : undefined,
  };
}
