import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import * as client from 'openid-client';
import { freePort, startChild } from '../../bench/lib/processes.ts';
import { startRoundRobinProxy, type RoundRobinProxy } from '../../bench/lib/round-robin-proxy.ts';
import { fetchTransport, HttpBrowser } from './browser.ts';
import { sesameCli, type CliResult } from './cli.ts';
import { createTestDatabase, type TestDatabase } from './postgres.ts';
import { startSmtpCatcher, type SmtpCatcher } from './smtp.ts';

/**
 * Several real Sesame processes on one PostgreSQL database behind one load balancer, the way an
 * operator runs Sesame on more than one machine (issue 12).
 *
 * Each instance is its own OS process running the production build (`npm run build`'s esbuild
 * bundle, what `npm run start:server` and `node dist/server/main.mjs` run) with NODE_ENV=production:
 * what operators deploy, and on a loaded 2-core machine it starts in well under a second where tsx
 * would compile the TypeScript sources again in every process. The bundle is built from the current
 * sources once per cluster, into a directory of its own under dist/ (so a parallel `npm run build`
 * or the bench never rewrites the file while an instance loads it), and removed on stop().
 *
 * Every instance has the same ENDPOINT, the round-robin proxy's origin (bench/lib/round-robin-proxy.ts),
 * TRUST_PROXY=1 (the proxy appends the address it saw to X-Forwarded-For), and the same SMTP sink.
 * The instances' ports are chosen first, the proxy is started on them, and then the instances, so
 * ENDPOINT is known before any of them starts and the proxy needs no change.
 *
 * A request sent through `endpoint` goes to the next instance in turn; `pin()` and the routed
 * browser/client below send a request to one chosen instance instead (the same URL, another origin).
 * A request sent straight to an instance with an X-Forwarded-For of the test's choosing is seen as
 * coming from that address (TRUST_PROXY=1 trusts the one hop, the test itself), which is how a test
 * plays several clients; through the proxy every client is 127.0.0.1.
 */
export const ROOT = resolve(import.meta.dirname, '..', '..');

export interface SesameInstance {
  index: number;
  port: number;
  /** This instance's own origin, e.g. http://127.0.0.1:40123 (not ENDPOINT). */
  url: string;
  pid: number;
  /** The process's stdout and stderr so far (the last 256 KB). */
  output(): string;
}

export interface SesameCluster {
  /** ENDPOINT of every instance: the round-robin proxy's origin. */
  endpoint: string;
  /** `${endpoint}/oidc` */
  issuer: string;
  instances: SesameInstance[];
  proxy: RoundRobinProxy;
  database: TestDatabase;
  /** DATABASE_URL of every instance (and of cli()). */
  databaseUrl: string;
  smtp: SmtpCatcher;
  /** Runs the real `sesame` command (bin/sesame.js) on the cluster's database. */
  cli(args: string[]): Promise<CliResult>;
  /** `url` (under ENDPOINT) sent to `instance` instead; unchanged when `instance` is undefined. */
  pin(url: string | URL, instance: SesameInstance | undefined): string;
  /** Every instance's output, labelled: for a failing test's report. */
  logs(): string;
  stop(): Promise<void>;
}

export interface ClusterOptions {
  count: number;
  /** Extra environment for every instance (e.g. RATE_LIMIT_PER_MINUTE, SIGNING_KEY_GRACE_SECONDS). */
  env?: Record<string, string>;
  /** LOG_LEVEL of the instances; default SESAME_TEST_LOG_LEVEL or `warn` (refusals and errors). */
  logLevel?: string;
  /** Longest wait for every instance to answer /health 200. */
  readyTimeoutMs?: number;
}

const OUTPUT_LIMIT = 256 * 1024;

/**
 * Builds src/main.ts as `npm run build` does, into dist/<own directory>/main.mjs (two levels under
 * the root, as Sesame's paths expect), so tests never race with `npm run build` or the bench.
 */
export async function buildServerBundle(prefix = 'multi-instance-'): Promise<{ file: string; remove(): void }> {
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const dir = mkdtempSync(join(ROOT, 'dist', prefix));
  const file = join(dir, 'main.mjs');
  try {
    // The server and its mail thread's program (src/mail/threaded-mailer.ts looks for it beside the bundle).
    await build({
      entryPoints: [join(ROOT, 'src', 'main.ts'), join(ROOT, 'src', 'mail', 'mail-worker.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      outdir: dir,
      entryNames: '[name]',
      outExtension: { '.js': '.mjs' },
      logLevel: 'silent',
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not build src/main.ts: ${(error as Error).message}`, { cause: error });
  }
  return { file, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Distinct free ports (freePort can hand the same port out twice in a row). */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/**
 * A fresh, empty PostgreSQL database (TEST_DATABASE_URL's server), an SMTP sink, the proxy, and
 * `count` instances started at the same moment. Resolves when every instance answers /health 200;
 * if one does not, everything is stopped and the error carries every instance's output.
 */
export async function startSesameCluster(options: ClusterOptions): Promise<SesameCluster> {
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await Promise.resolve(step()).catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    const database = await createTestDatabase();
    cleanups.push(() => database.drop());
    const smtp = await startSmtpCatcher();
    cleanups.push(() => smtp.close());
    const bundle = await buildServerBundle();
    cleanups.push(() => bundle.remove());
    // The instances' working directory: no .env of the checkout leaks into them.
    const cwd = mkdtempSync(join(tmpdir(), 'sesame-multi-'));
    cleanups.push(() => rmSync(cwd, { recursive: true, force: true }));

    // The proxy's port and the instances', all distinct, chosen before anything listens.
    const [proxyPort, ...ports] = await freePorts(options.count + 1);
    const proxy = await startRoundRobinProxy(
      ports.map((port) => `http://127.0.0.1:${port}`),
      { port: proxyPort },
    );
    cleanups.push(() => proxy.close());

    const env: Record<string, string> = {
      NODE_ENV: 'production',
      ENDPOINT: proxy.url,
      DATABASE_URL: database.url,
      // Several instances and several test files share one server's max_connections.
      DATABASE_POOL_MAX: '5',
      TRUST_PROXY: '1',
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtp.port),
      SMTP_SECURE: 'false',
      SMTP_FROM: 'Sesame <no-reply@sesame.test>',
      LOG_LEVEL: options.logLevel ?? process.env.SESAME_TEST_LOG_LEVEL ?? 'warn',
      ...options.env,
    };
    // Spawned together (migrations and the first keys race on the empty database), each awaited.
    const started = await Promise.allSettled(
      ports.map((port) =>
        startChild({
          script: bundle.file,
          tsx: false,
          cwd,
          port,
          probePath: '/health',
          env: { ...env, PORT: String(port), HOST: '127.0.0.1' },
          timeoutMs: options.readyTimeoutMs ?? 60_000,
          keepOutputChars: OUTPUT_LIMIT,
        }),
      ),
    );
    const children = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    cleanups.push(() => Promise.all(children.map((child) => child.stop())).then(() => undefined));
    const failed = started.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed.length > 0) {
      throw new Error(`${failed.length} of ${options.count} instances did not start:\n${failed.map((result) => (result.reason as Error).message).join('\n\n')}`);
    }

    const instances: SesameInstance[] = children.map(({ pid, url, output }, index) => ({ index, port: ports[index]!, url, pid, output }));
    const endpointOrigin = new URL(proxy.url).origin;
    const stop = cleanup;
    return {
      endpoint: proxy.url,
      issuer: `${proxy.url}/oidc`,
      instances,
      proxy,
      database,
      databaseUrl: database.url,
      smtp,
      cli: (args) => sesameCli(args, { cwd, database: database.url }),
      pin(url, instance) {
        const target = new URL(url);
        if (!instance || target.origin !== endpointOrigin) return target.toString();
        const pinned = new URL(instance.url);
        pinned.pathname = target.pathname;
        pinned.search = target.search;
        pinned.hash = target.hash;
        return pinned.toString();
      },
      logs: () => instances.map((instance) => `----- instance ${instance.index} (${instance.url}, pid ${instance.pid}) -----\n${instance.output() || '(no output)'}`).join('\n'),
      stop,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** Where a routed browser or client sends its next request: an instance, or (undefined) the proxy. */
export interface Route {
  via: SesameInstance | undefined;
}

/**
 * An HttpBrowser whose requests go to `route.via` (set it between steps) or, when that is undefined,
 * through the proxy. URLs and cookies stay those of ENDPOINT: only the connection changes, as when
 * a load balancer picks the instance. Every Set-Cookie line it receives is kept in `setCookies`.
 */
export function routedBrowser(cluster: SesameCluster, headers: Record<string, string> = {}): { browser: HttpBrowser; route: Route; setCookies: string[] } {
  const route: Route = { via: undefined };
  const setCookies: string[] = [];
  const browser = new HttpBrowser(headers, async (url, init) => {
    const response = await fetchTransport(new URL(cluster.pin(url, route.via)), init);
    setCookies.push(...response.headers.getSetCookie());
    return response;
  });
  return { browser, route, setCookies };
}

/** Makes openid-client send `config`'s requests to `route.via` (or through the proxy when undefined). */
export function routeClient(cluster: SesameCluster, config: client.Configuration): Route {
  const route: Route = { via: undefined };
  config[client.customFetch] = (url, options) => fetch(cluster.pin(url, route.via), options as RequestInit);
  return route;
}
