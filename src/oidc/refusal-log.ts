import type { EventEmitter } from 'node:events';
import type { FastifyBaseLogger } from 'fastify';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';

/**
 * Every oidc-provider event that reports a request it refused, with the signature (ctx, err).
 * `server_error` (5xx, a fault rather than a refusal) is deliberately not here: it has its own logger.
 */
const REFUSAL_EVENTS = [
  'authorization.error',
  'grant.error',
  'end_session.error',
  'end_session_confirm.error',
  'end_session_success.error',
  'introspection.error',
  'revocation.error',
  'userinfo.error',
  'discovery.error',
  'jwks.error',
  'pushed_authorization_request.error',
  'registration_create.error',
  'registration_read.error',
  'registration_update.error',
  'registration_delete.error',
  'device_authorization.error',
  'code_verification.error',
  'device_resume.error',
  'backchannel_authentication.error',
  'challenge.error',
  'credential.error',
  'openid_credential_issuer.error',
] as const;

/** Refusals that are part of normal use (a person cancelled, an app probing for a session): info, not warn. */
const ROUTINE = new Set([
  'login_required',
  'consent_required',
  'interaction_required',
  'account_selection_required',
  'access_denied',
  'invalid_token',
]);

/** Request parameters whose values must never reach a log line. */
const SECRET_PARAMS = [
  'code',
  'code_verifier',
  'refresh_token',
  'access_token',
  'token',
  'id_token_hint',
  'logout_token',
  'client_secret',
  'client_assertion',
  'request',
  'subject_token',
  'actor_token',
  'device_code',
  'user_code',
  'password',
];

const MAX_VALUE = 300;

type RefusalLogger = Pick<FastifyBaseLogger, 'info' | 'warn'>;

interface OidcError {
  error?: string;
  message?: string;
  error_description?: string;
  error_detail?: string;
  statusCode?: number;
  expose?: boolean;
  scope?: string;
}

interface Pending {
  event: string;
  errors: OidcError[];
}

/**
 * Logs each request the OIDC layer refused (4xx) once, at info or warn, with the error code, the
 * client id, the endpoint and the reason oidc-provider knows (error_description and error_detail),
 * plus the parameter an operator needs to fix it (the redirect URI or resource the app sent). No
 * secret, code or token value is ever written: such values are redacted from every field.
 */
export function logRefusals(provider: Provider, logger: RefusalLogger): void {
  const emitter = provider as unknown as EventEmitter;
  // One request can emit more than once (oidc-provider's authorization handler reports the original
  // error and then the invalid_redirect_uri it turns into): collect per request, write one line.
  const pending = new WeakMap<object, Pending>();

  for (const event of REFUSAL_EVENTS) {
    emitter.on(event, (ctx: KoaContextWithOIDC, err: OidcError) => {
      try {
        if (!err || err.expose === false || (err.statusCode ?? 400) >= 500) return;
        const open = pending.get(ctx);
        if (open) {
          if (!open.errors.includes(err)) open.errors.push(err);
          return;
        }
        pending.set(ctx, { event, errors: [err] });
        // The handler emits synchronously, before the response is written: one turn later every
        // error of this request is in.
        setImmediate(() => {
          const done = pending.get(ctx);
          pending.delete(ctx);
          if (done) write(logger, ctx, done);
        });
      } catch {
        // Logging must never turn a refusal into a fault.
      }
    });
  }

  emitter.on('backchannel.error', (ctx: KoaContextWithOIDC, err: OidcError, client: { clientId?: string } | undefined) => {
    try {
      const secrets = secretValues(ctx);
      const record = redact(
        {
          endpoint: 'backchannel_logout',
          error: err?.error ?? err?.message,
          error_description: err?.error_description,
          error_detail: err?.error_detail,
          client_id: client?.clientId,
        },
        secrets,
      );
      logger.warn({ oidc_refusal: record }, `OIDC back-channel logout to client ${record.client_id ?? '(unknown)'} failed: ${record.error ?? 'error'}`);
    } catch {
      // as above
    }
  });
}

function write(logger: RefusalLogger, ctx: KoaContextWithOIDC, { errors }: Pending): void {
  try {
    // The last error is the one the app or person got; earlier ones are reported alongside.
    const final = errors[errors.length - 1]!;
    const params = paramsOf(ctx);
    const endpoint = stringOr(ctx.oidc?.route) ?? ctx.path;
    const code = final.error ?? final.message ?? 'error';
    const record: Record<string, unknown> = {
      endpoint,
      method: ctx.method,
      status: final.statusCode,
      error: code,
      error_description: final.error_description,
      error_detail: final.error_detail,
      client_id: clientIdOf(ctx, params),
      grant_type: stringOr(params.grant_type),
      redirect_uri: stringOr(params.redirect_uri),
      post_logout_redirect_uri: stringOr(params.post_logout_redirect_uri),
      resource: resourceOf(params.resource),
      scope: final.scope,
    };
    const hint = hintFor(record);
    if (hint) record.hint = hint;
    if (errors.length > 1) {
      record.also = errors.slice(0, -1).map((error) => ({
        error: error.error ?? error.message,
        error_description: error.error_description,
        error_detail: error.error_detail,
      }));
    }
    const clean = redact(record, secretValues(ctx));
    const reason = [clean.error_description, clean.error_detail].filter(Boolean).join(': ');
    const message = `OIDC ${String(clean.endpoint)} refused for client ${String(clean.client_id ?? '(none)')}: ${String(clean.error)}${reason ? ` (${reason})` : ''}${clean.hint ? `; ${String(clean.hint)}` : ''}`;
    const level = ROUTINE.has(code) ? 'info' : 'warn';
    logger[level]({ oidc_refusal: clean }, message);
  } catch {
    // Logging must never turn a refusal into a fault.
  }
}

function hintFor(record: Record<string, unknown>): string | undefined {
  const { error, error_description: description, error_detail: detail } = record;
  if (error === 'invalid_redirect_uri' && record.redirect_uri) {
    return `the app sent redirect_uri ${String(record.redirect_uri)}, which is not registered for it; register exactly that URI (compared byte for byte; \`sesame app list\` shows what is registered)`;
  }
  if (error === 'invalid_request' && description === 'post_logout_redirect_uri not registered' && record.post_logout_redirect_uri) {
    return `the app sent post_logout_redirect_uri ${String(record.post_logout_redirect_uri)}; register exactly that URI as a post-logout redirect URI (compared byte for byte, trailing slash included)`;
  }
  if (error === 'invalid_client' && detail === 'client not found') {
    return 'no app has this client_id: check the App ID the app is configured with (`sesame app list`)';
  }
  if (error === 'invalid_client' && detail === 'invalid secret provided') {
    return 'the App Secret the app sent is not this app’s: use the one `sesame app create` printed';
  }
  return undefined;
}

function paramsOf(ctx: KoaContextWithOIDC): Record<string, unknown> {
  const params = ctx.oidc?.params as Record<string, unknown> | undefined;
  if (params && typeof params === 'object') return params;
  const body = (ctx.oidc as { body?: Record<string, unknown> } | undefined)?.body;
  return { ...(ctx.query as Record<string, unknown>), ...(body && typeof body === 'object' ? body : {}) };
}

function clientIdOf(ctx: KoaContextWithOIDC, params: Record<string, unknown>): string | undefined {
  const known = ctx.oidc?.client?.clientId;
  if (known) return known;
  const fromParams = stringOr(params.client_id);
  if (fromParams) return truncate(fromParams);
  // An unknown or mistyped App ID at the token endpoint arrives only in the Basic header: take the
  // part before the colon (the id), never the part after it (the secret).
  const basic = basicCredentials(ctx);
  return basic ? truncate(basic.id) : undefined;
}

function basicCredentials(ctx: KoaContextWithOIDC): { id: string; secret: string } | undefined {
  const header = ctx.headers?.authorization;
  if (typeof header !== 'string') return undefined;
  const [scheme, value] = header.split(' ');
  if (scheme?.toLowerCase() !== 'basic' || !value) return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return undefined;
  return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
}

function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}

/** Every secret value the request carried, so that no field can repeat one by accident. */
function secretValues(ctx: KoaContextWithOIDC): string[] {
  const values = new Set<string>();
  const sources = [ctx.oidc?.params, (ctx.oidc as { body?: unknown } | undefined)?.body, ctx.query] as unknown[];
  for (const source of sources) {
    if (!source || typeof source !== 'object') continue;
    for (const name of SECRET_PARAMS) {
      const value = (source as Record<string, unknown>)[name];
      for (const item of [value].flat()) if (typeof item === 'string') values.add(item);
    }
  }
  const basic = basicCredentials(ctx);
  if (basic) values.add(basic.secret);
  const bearer = ctx.headers?.authorization;
  if (typeof bearer === 'string' && /^(bearer|dpop) /i.test(bearer)) values.add(bearer.slice(bearer.indexOf(' ') + 1));
  return [...values].filter((value) => value.length >= 4);
}

function redact<T extends Record<string, unknown>>(record: T, secrets: string[]): T {
  const clean = (value: unknown): unknown => {
    if (typeof value === 'string') {
      let text = value;
      for (const secret of secrets) if (text.includes(secret)) text = text.split(secret).join('[redacted]');
      return truncate(text);
    }
    if (Array.isArray(value)) return value.map(clean);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, clean(item)]));
    return value;
  };
  return Object.fromEntries(
    Object.entries(record)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => [key, clean(value)]),
  ) as T;
}

function resourceOf(value: unknown): string | string[] | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return undefined;
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function truncate(value: string): string {
  return value.length > MAX_VALUE ? `${value.slice(0, MAX_VALUE)}...` : value;
}
