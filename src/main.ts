import cluster from 'node:cluster';
import { ConfigError, loadConfig, readEnvironment, type Config } from './config/index.ts';
import { MigrationError } from './db/migrate.ts';
import type { RunningSesame } from './server.ts';
import { joinCluster, runPrimary, WORKER_INDEX_VARIABLE } from './cluster.ts';

/** The configuration, or undefined after printing one line per problem (exit code 2). */
export function loadConfigOrReport(): Readonly<Config> | undefined {
  try {
    return loadConfig(readEnvironment());
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const line of error.problems) console.error(`config error: ${line}`);
      process.exitCode = 2;
      return undefined;
    }
    throw error;
  }
}

/** Production entry point: Sesame alone (one process, or one worker of WORKERS). `npm start` (src/dev.ts) adds the demo. */
export async function runServer(config: Readonly<Config> | undefined = loadConfigOrReport()): Promise<RunningSesame | undefined> {
  if (!config) return undefined;
  // Loaded here, not at the top: the WORKERS primary serves nothing and needs none of it.
  const { StartupError, startSesame } = await import('./server.ts');
  try {
    const logger = { level: config.logLevel, ...(config.env !== 'production' && process.stdout.isTTY ? { transport: { target: 'pino-pretty', options: { ignore: 'pid,hostname' } } } : {}) };
    // With WORKERS, worker 0 (and its replacement) purges expired rows; one process purges anyway.
    const workerIndex = process.env[WORKER_INDEX_VARIABLE];
    const sesame = await startSesame(config, { logger, purge: workerIndex === undefined || workerIndex === '0' });
    sesame.app.log.info(`Sesame is ready: issuer ${config.issuer}`);
    if (sesame.devMailbox) sesame.app.log.info(`dev mailbox (no SMTP configured): ${config.endpoint}/dev/mail`);
    return sesame;
  } catch (error) {
    if (error instanceof StartupError || error instanceof MigrationError) {
      console.error(`startup error: ${error.message}`);
      process.exitCode = 1;
      return undefined;
    }
    throw error;
  }
}

/** Stop accepting, let in-flight requests finish, then close the database; a second signal forces exit. */
export function closeOnSignals(close: () => Promise<void>): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) process.exit(1);
    closing = true;
    console.error(`${signal} received: shutting down`);
    close().then(
      () => process.exit(0),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** `close` run once however many times it is asked for (a signal and the cluster's shutdown message). */
function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => (closing ??= close());
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const config = loadConfigOrReport();
  if (config && cluster.isPrimary && config.workers > 1) {
    process.exitCode = await runPrimary(config);
  } else if (config) {
    const sesame = await runServer(config);
    if (sesame) {
      const close = once(() => sesame.close());
      closeOnSignals(close);
      if (cluster.isWorker) joinCluster(() => close().then(() => process.exit(0)));
    } else if (cluster.isWorker) {
      // A worker that cannot start says why (above) and leaves; the primary stops the rest.
      process.exit(process.exitCode ?? 1);
    }
  }
}
