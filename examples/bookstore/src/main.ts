import { resolve } from 'node:path';
import { sesameCommand } from './registration.ts';
import { startDemo } from './start.ts';

/**
 * `npm start` in this folder (or `npm start -w @sesame/bookstore-example` at the repository root):
 * the Bookstore alone, against a Sesame that is already running. The repository's own `npm start`
 * starts both. Paths and the `sesame` command are relative to where npm was started (INIT_CWD).
 */
const env = process.env;
const cwd = env.INIT_CWD ?? process.cwd();
const port = Number(env.DEMO_PORT ?? 3000);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
  console.error(`config error: DEMO_PORT must be an integer between 1 and 65535, got "${env.DEMO_PORT}"`);
  process.exit(2);
}
const issuer = env.SESAME_ISSUER ?? `${(env.ENDPOINT ?? 'http://localhost:3001').replace(/\/+$/, '')}/oidc`;

try {
  const demo = await startDemo({
    issuer,
    sesame: sesameCommand({ command: env.SESAME_CLI?.trim().split(/\s+/), cwd }),
    file: resolve(cwd, env.DEMO_DB ?? 'data/bookstore-demo.db'),
    baseUrl: env.DEMO_URL,
    port,
    host: env.DEMO_HOST ?? '127.0.0.1',
    mailboxUrl: env.DEV_MAILBOX_URL,
    logger: { level: env.LOG_LEVEL ?? 'info' },
  });
  console.log(`Bookstore: ${demo.url} (signs in with ${issuer})`);
  const stop = () => void demo.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
} catch (error) {
  const code = (error as NodeJS.ErrnoException).code;
  console.error(
    code === 'EADDRINUSE'
      ? `startup error: port ${port} is already in use: stop the other program or set DEMO_PORT`
      : `startup error: the Bookstore could not start: ${(error as Error).message}`,
  );
  process.exitCode = 1;
}
