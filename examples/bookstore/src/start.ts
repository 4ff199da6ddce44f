import type { FastifyInstance } from 'fastify';
import { buildDemoApp } from './app.ts';
import { ensureDemoRegistration, sesameCommand, trimTrailingSlash, type SesameCli } from './registration.ts';
import { DemoStore } from './store.ts';

export interface StartDemoOptions {
  /** Sesame's issuer, `${ENDPOINT}/oidc`. */
  issuer: string;
  /** The `sesame` command the Bookstore registers itself with; default `npx sesame` here. */
  sesame?: SesameCli;
  /** The Bookstore's SQLite file (settings + sessions), e.g. ./data/bookstore-demo.db. */
  file: string;
  /** Public URL of the Bookstore, default http://localhost:3000. */
  baseUrl?: string;
  port?: number;
  host?: string;
  mailboxUrl?: string;
  logger?: boolean | object;
}

export interface RunningDemo {
  app: FastifyInstance;
  store: DemoStore;
  url: string;
  close(): Promise<void>;
}

/** Opens the store, registers with Sesame, builds and listens: the one call a composition root needs. */
export async function startDemo(options: StartDemoOptions): Promise<RunningDemo> {
  const port = options.port ?? 3000;
  const baseUrl = trimTrailingSlash(options.baseUrl ?? `http://localhost:${port}`);
  const store = DemoStore.open(options.file);
  try {
    const { clientId, clientSecret } = await ensureDemoRegistration(options.sesame ?? sesameCommand(), store, baseUrl);
    const app = await buildDemoApp({
      baseUrl,
      issuer: options.issuer,
      clientId,
      clientSecret,
      store,
      mailboxUrl: options.mailboxUrl,
      logger: options.logger,
    });
    await app.listen({ port, host: options.host ?? '127.0.0.1' });
    return {
      app,
      store,
      url: baseUrl,
      close: async () => {
        await closeGracefully(app);
        store.close();
      },
    };
  } catch (error) {
    store.close();
    throw error;
  }
}

/**
 * Stops accepting, lets requests in flight finish, then returns. A keep-alive connection that was
 * busy when closing began would otherwise hold the close open for its whole timeout, so idle
 * connections are closed again every 100 ms; after 10 s whatever is left is cut.
 */
async function closeGracefully(app: FastifyInstance, deadlineMs = 10_000): Promise<void> {
  const started = Date.now();
  const sweeper = setInterval(() => {
    if (Date.now() - started > deadlineMs) app.server.closeAllConnections();
    else app.server.closeIdleConnections();
  }, 100);
  try {
    await app.close();
  } finally {
    clearInterval(sweeper);
  }
}
