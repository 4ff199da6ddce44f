import type { FastifyInstance } from 'fastify';
import type { Database } from '../db/database.ts';
import { buildDemoApp } from './app.ts';
import { closeGracefully } from '../lib/shutdown.ts';
import { ensureDemoRegistration, trimTrailingSlash } from './registration.ts';
import { DemoStore } from './store.ts';

export interface StartDemoOptions {
  /** Sesame's own database: the demo registers itself there, as `sesame app create` would. */
  sesameDb: Database;
  /** The demo's SQLite file (settings + sessions), e.g. ./data/demo.db. */
  file: string;
  /** Public URL of the demo, default http://localhost:3000. */
  baseUrl?: string;
  /** Sesame's issuer, `${ENDPOINT}/oidc`. */
  issuer: string;
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
    const { clientId, clientSecret } = await ensureDemoRegistration(options.sesameDb, store, baseUrl);
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
