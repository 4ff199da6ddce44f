import { ConfigError, loadConfig, readEnvironment } from './config/index.ts';
import { MigrationError } from './db/migrate.ts';
import { StartupError, startSesame, type RunningSesame } from './server.ts';

/** Production entry point: Sesame alone. `npm start` (src/dev.ts) adds the demo. */
export async function runServer(): Promise<RunningSesame | undefined> {
  let config;
  try {
    config = loadConfig(readEnvironment());
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const line of error.problems) console.error(`config error: ${line}`);
      process.exitCode = 2;
      return undefined;
    }
    throw error;
  }
  try {
    const logger = { level: config.logLevel, ...(config.env !== 'production' && process.stdout.isTTY ? { transport: { target: 'pino-pretty', options: { ignore: 'pid,hostname' } } } : {}) };
    const sesame = await startSesame(config, { logger });
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const sesame = await runServer();
  if (sesame) closeOnSignals(() => sesame.close());
}
