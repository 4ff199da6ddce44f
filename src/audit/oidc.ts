import type { EventEmitter } from 'node:events';
import type { FastifyBaseLogger } from 'fastify';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { Queryable } from '../db/database.ts';
import { AuditType, MAX_USER_AGENT, recordAudit, type AuditEvent } from './log.ts';

/**
 * The audit events oidc-provider reports: a sign-out (RP-initiated logout confirmed) and a token
 * asked for by a machine-to-machine app (client_credentials, issued or refused). Every other grant
 * (authorization_code, refresh_token) is left out on purpose: they are the hot path of every app,
 * and the sign-in they come from is already recorded.
 *
 * oidc-provider emits synchronously and does not wait for listeners: each record is written in the
 * background, and a failure to write it is logged, never turned into a failed request.
 */
export function auditOidcEvents(provider: Provider, db: Queryable, log: Pick<FastifyBaseLogger, 'error'>, now: () => number = Date.now): void {
  const emitter = provider as unknown as EventEmitter;
  const write = (event: AuditEvent) => {
    recordAudit(db, event, now()).catch((error: unknown) => log.error({ err: error, audit: event.type }, 'audit log: could not record the event'));
  };

  emitter.on('end_session.success', (ctx: KoaContextWithOIDC) => {
    try {
      const session = ctx.oidc.session;
      // Nobody was signed in (an app sending a browser without a session to end_session): nothing ended.
      if (!session?.accountId) return;
      write({
        ...requestOf(ctx),
        type: AuditType.SignOut,
        result: 'success',
        userId: session.accountId,
        applicationId: ctx.oidc.client?.clientId ?? null,
        // 'logout=yes' ends the whole session; without it only this app's part of it.
        data: { everywhere: Boolean(ctx.oidc.params?.logout) },
      });
    } catch (error) {
      log.error({ err: error }, 'audit log: could not record a sign-out');
    }
  });

  emitter.on('grant.success', (ctx: KoaContextWithOIDC) => {
    try {
      if (ctx.oidc.params?.grant_type !== 'client_credentials') return;
      const body = ctx.body as { scope?: unknown } | undefined;
      write({
        ...requestOf(ctx),
        type: AuditType.ClientCredentials,
        result: 'success',
        applicationId: ctx.oidc.client?.clientId ?? null,
        data: { scope: stringOrUndefined(body?.scope) ?? stringOrUndefined(ctx.oidc.params.scope), resource: resourceOf(ctx.oidc.params.resource) },
      });
    } catch (error) {
      log.error({ err: error }, 'audit log: could not record a client_credentials token');
    }
  });

  emitter.on('grant.error', (ctx: KoaContextWithOIDC, err: { error?: string; message?: string; error_description?: string }) => {
    try {
      if (ctx.oidc?.params?.grant_type !== 'client_credentials') return;
      // A registered app, whether or not it proved its secret (a wrong secret is worth seeing under
      // the app it was tried against); for an App ID that names no app, the one claimed (never the secret).
      const registered = ctx.oidc.client?.clientId;
      write({
        ...requestOf(ctx),
        type: AuditType.ClientCredentials,
        result: 'failure',
        applicationId: registered ?? null,
        data: {
          error: err?.error ?? err?.message,
          description: stringOrUndefined(err?.error_description),
          claimedClientId: registered ? undefined : claimedClientId(ctx),
          resource: resourceOf(ctx.oidc.params.resource),
        },
      });
    } catch (error) {
      log.error({ err: error }, 'audit log: could not record a refused client_credentials request');
    }
  });
}

function requestOf(ctx: KoaContextWithOIDC): Pick<AuditEvent, 'ip' | 'userAgent'> {
  // ctx.ip is fastify's verdict on the client address (TRUST_PROXY), set by the /oidc mount.
  const ip = ctx.ip || null;
  const agent = ctx.get('user-agent');
  return {
    ip: ip && ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip,
    userAgent: agent ? agent.slice(0, MAX_USER_AGENT) : null,
  };
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function resourceOf(value: unknown): string | string[] | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return undefined;
}

/** client_id from the body, or the user part of a Basic header (the part before the colon). */
function claimedClientId(ctx: KoaContextWithOIDC): string | undefined {
  const fromParams = stringOrUndefined(ctx.oidc.params?.client_id);
  if (fromParams) return fromParams.slice(0, 200);
  const header = ctx.get('authorization');
  const [scheme, value] = header.split(' ');
  if (scheme?.toLowerCase() !== 'basic' || !value) return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  try {
    return decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')).slice(0, 200);
  } catch {
    return decoded.slice(0, colon).slice(0, 200);
  }
}
