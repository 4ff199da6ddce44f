import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DEFAULT_ACCESS_TOKEN_TTL, MAX_ACCESS_TOKEN_TTL, MIN_ACCESS_TOKEN_TTL } from '../../management/resources.ts';
import { sectionOf, type ConsoleContext, type PageRoute } from '../context.ts';
import { apiErrors, clean, pageNumber, text, type FieldErrors } from '../forms.ts';
import { pager } from './applications.ts';

interface Scope {
  id: string;
  name: string;
  description: string | null;
  createdAt: number;
}
interface Resource {
  id: string;
  name: string;
  indicator: string;
  accessTokenTtl: number;
  scopes?: Scope[];
}

const PAGE_SIZE = 20;
/** Which form field an API refusal is about (see forms.ts apiErrors). */
const RESOURCE_FIELDS = { indicator: /indicator/i, accessTokenTtl: /accessTokenTtl|TTL/i, name: /\bname\b/i };
const SCOPE_FIELDS = { description: /description/i, scope: /scope|name/i };
const TTL_LIMITS = { min: MIN_ACCESS_TOKEN_TTL, max: MAX_ACCESS_TOKEN_TTL };

const idOf = (request: FastifyRequest) => encodeURIComponent((request.params as { id: string }).id);
const resourceUrl = (request: FastifyRequest) => `/console/resources/${idOf(request)}`;

/** The form's values as typed, kept through a refusal. */
const resourceForm = (body: unknown) => ({ name: text(body, 'name'), indicator: text(body, 'indicator'), accessTokenTtl: text(body, 'accessTokenTtl') });
const scopeForm = (body: unknown) => ({ scope: text(body, 'scope'), description: text(body, 'description') });

/** The browser checks the same (required, maxlength, type=url, min/max): this is for those that do not. */
function checkResource(form: ReturnType<typeof resourceForm>, creating: boolean) {
  const errors: FieldErrors = {};
  const name = form.name.trim();
  if (!name) errors.name = 'Give the API a name, for you and other administrators.';
  else if (name.length > 128) errors.name = 'At most 128 characters.';
  const indicator = form.indicator.trim();
  if (creating) {
    if (!indicator) errors.indicator = 'Enter the API identifier, such as https://api.example.com.';
    else if (!URL.canParse(indicator)) errors.indicator = 'The identifier must be an absolute URI, such as https://api.example.com.';
  }
  const ttl = Number(form.accessTokenTtl.trim());
  if (!/^\d+$/.test(form.accessTokenTtl.trim()) || ttl < TTL_LIMITS.min || ttl > TTL_LIMITS.max) {
    errors.accessTokenTtl = `A whole number of seconds from ${TTL_LIMITS.min} to ${TTL_LIMITS.max} (one day).`;
  }
  return { errors, name, indicator, accessTokenTtl: ttl };
}

export function resourceRoutes(scope: FastifyInstance, page: PageRoute): void {
  const section = sectionOf('resources');
  const post = { ...section, preHandler: scope.csrfProtection };

  scope.get(
    '/console/resources',
    section,
    page(async (request, reply, { api, render }) => {
      const current = pageNumber((request.query as Record<string, unknown>).page);
      const { body, total = 0 } = await api.ok<Resource[]>('GET', `/resources?includeScopes=true&page=${current}&page_size=${PAGE_SIZE}`);
      return render(reply, 'resources', { title: 'API resources', resources: body, pager: pager(current, total, '/console/resources?') });
    }),
  );

  const newForm = (reply: FastifyReply, ctx: ConsoleContext, form: ReturnType<typeof resourceForm>, errors: FieldErrors = {}) =>
    ctx.render(reply, 'resource-new', { title: 'New API resource', form, errors, ttl: TTL_LIMITS }, clean(errors) ? 200 : 400);

  scope.get('/console/resources/new', section, page(async (_request, reply, ctx) => newForm(reply, ctx, { name: '', indicator: '', accessTokenTtl: String(DEFAULT_ACCESS_TOKEN_TTL) })));

  scope.post(
    '/console/resources',
    post,
    page(async (request, reply, ctx) => {
      const form = resourceForm(request.body);
      const checked = checkResource(form, true);
      if (!clean(checked.errors)) return newForm(reply, ctx, form, checked.errors);
      const answer = await ctx.api.call<Resource>('POST', '/resources', { name: checked.name, indicator: checked.indicator, accessTokenTtl: checked.accessTokenTtl });
      if (answer.status !== 200) return newForm(reply, ctx, form, apiErrors(answer, RESOURCE_FIELDS));
      return ctx.redirect(reply, `/console/resources/${encodeURIComponent(answer.body.id)}`, { kind: 'notice', text: `Registered ${answer.body.name}. Add the scopes its tokens may carry below.` });
    }),
  );

  async function showResource(
    request: FastifyRequest,
    reply: FastifyReply,
    ctx: ConsoleContext,
    kept: { settings?: ReturnType<typeof resourceForm>; scope?: ReturnType<typeof scopeForm> } = {},
    errors: FieldErrors = {},
  ) {
    const [{ body: resource }, { body: scopes }] = await Promise.all([
      ctx.api.ok<Resource>('GET', `/resources/${idOf(request)}`),
      // A resource has at most 100 scopes (MAX_SCOPES): one page holds them all.
      ctx.api.ok<Scope[]>('GET', `/resources/${idOf(request)}/scopes?page_size=100`),
    ]);
    return ctx.render(
      reply,
      'resource',
      {
        title: resource.name,
        resource,
        scopes,
        settings: kept.settings ?? { name: resource.name, indicator: resource.indicator, accessTokenTtl: String(resource.accessTokenTtl) },
        scopeForm: kept.scope ?? { scope: '', description: '' },
        ttl: TTL_LIMITS,
        errors,
      },
      clean(errors) ? 200 : 400,
    );
  }

  scope.get('/console/resources/:id', section, page(async (request, reply, ctx) => showResource(request, reply, ctx)));

  scope.post(
    '/console/resources/:id',
    post,
    page(async (request, reply, ctx) => {
      const form = resourceForm(request.body);
      const checked = checkResource(form, false);
      if (!clean(checked.errors)) return showResource(request, reply, ctx, { settings: form }, checked.errors);
      const answer = await ctx.api.call<Resource>('PATCH', `/resources/${idOf(request)}`, { name: checked.name, accessTokenTtl: checked.accessTokenTtl });
      if (answer.status !== 200) return showResource(request, reply, ctx, { settings: form }, apiErrors(answer, RESOURCE_FIELDS));
      return ctx.redirect(reply, resourceUrl(request), { kind: 'notice', text: 'Saved. Tokens issued from now on get the new lifetime.' });
    }),
  );

  scope.post(
    '/console/resources/:id/scopes',
    post,
    page(async (request, reply, ctx) => {
      const form = scopeForm(request.body);
      const errors: FieldErrors = {};
      const name = form.scope.trim();
      if (!name) errors.scope = 'Enter the scope, such as read:orders.';
      else if (/[\s"\\]/.test(name)) errors.scope = 'A scope is one word: no spaces, quotes or backslashes.';
      if (form.description.length > 256) errors.description = 'At most 256 characters.';
      if (!clean(errors)) return showResource(request, reply, ctx, { scope: form }, errors);
      const answer = await ctx.api.call<Scope>('POST', `/resources/${idOf(request)}/scopes`, { name, description: form.description.trim() || null });
      if (answer.status !== 201) return showResource(request, reply, ctx, { scope: form }, apiErrors(answer, SCOPE_FIELDS));
      return ctx.redirect(reply, `${resourceUrl(request)}#scopes-heading`, { kind: 'notice', text: `Added the scope ${answer.body.name}.` });
    }),
  );

  scope.post(
    '/console/resources/:id/scopes/:scopeId/delete',
    post,
    page(async (request, reply, ctx) => {
      const scopeId = encodeURIComponent((request.params as { scopeId: string }).scopeId);
      await ctx.api.ok('DELETE', `/resources/${idOf(request)}/scopes/${scopeId}`);
      return ctx.redirect(reply, `${resourceUrl(request)}#scopes-heading`, { kind: 'notice', text: 'Removed the scope. Tokens already issued with it keep it until they expire.' });
    }),
  );

  scope.get(
    '/console/resources/:id/delete',
    section,
    page(async (request, reply, ctx) => {
      const { body: resource } = await ctx.api.ok<Resource>('GET', `/resources/${idOf(request)}`);
      return ctx.render(reply, 'confirm-delete', {
        title: `Delete ${resource.name}?`,
        what: resource.name,
        consequences: [
          `Apps can no longer get tokens for ${resource.indicator}; its scopes go with it.`,
          'Tokens already issued for it stay valid until they expire (at most its access token TTL).',
        ],
        action: `/console/resources/${encodeURIComponent(resource.id)}/delete`,
        cancel: `/console/resources/${encodeURIComponent(resource.id)}`,
      });
    }),
  );

  scope.post(
    '/console/resources/:id/delete',
    post,
    page(async (request, reply, ctx) => {
      const { body: resource } = await ctx.api.ok<Resource>('GET', `/resources/${idOf(request)}`);
      await ctx.api.ok('DELETE', `/resources/${idOf(request)}`);
      return ctx.redirect(reply, '/console/resources', { kind: 'notice', text: `Deleted ${resource.name}.` });
    }),
  );
}
