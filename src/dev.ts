import { dirname, join } from 'node:path';
import { sesameCommand, startDemo } from '@sesame/bookstore-example';
import { closeOnSignals, runServer } from './main.ts';
import { loadConfig, PROJECT_ROOT, readEnvironment } from './config/index.ts';

/**
 * `npm start`: Sesame plus the Bookstore example (examples/bookstore; and the dev mailbox when no SMTP
 * is configured), everything a newcomer needs to watch a sign-in work. Production runs
 * `npm run start:server`. The Bookstore is an outside app that happens to share this process: it
 * registers itself with the `sesame` command and signs in over OIDC, like any other app.
 */
const sesame = await runServer();
if (sesame) {
  const config = loadConfig(readEnvironment());
  const mailboxUrl = sesame.devMailbox ? `${config.endpoint}/dev/mail` : undefined;
  try {
    const demo = await startDemo({
      // The same command a person would type, in this directory with this environment (so the same database).
      sesame: sesameCommand({ command: [process.execPath, join(PROJECT_ROOT, 'bin', 'sesame.js')] }),
      file: join(dirname(config.databaseFile), 'bookstore-demo.db'),
      issuer: config.issuer,
      baseUrl: config.demo.url,
      port: config.demo.port,
      host: config.host,
      mailboxUrl,
    });
    const lines = [
      '',
      '  Sesame is running.',
      `  Sign-in service (OIDC issuer): ${config.issuer}`,
      `  Bookstore demo app:            ${demo.url}`,
      mailboxUrl ? `  Dev mailbox (read codes here): ${mailboxUrl}` : '  Mail goes out through your SMTP server.',
      '',
      '  Press Ctrl-C to stop.',
      '',
    ];
    console.log(lines.join('\n'));
    closeOnSignals(async () => {
      await demo.close();
      await sesame.close();
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    console.error(
      code === 'EADDRINUSE'
        ? `startup error: port ${config.demo.port} (the Bookstore demo) is already in use: stop the other program or set DEMO_PORT`
        : `startup error: the Bookstore demo could not start: ${(error as Error).message}`,
    );
    await sesame.close();
    process.exitCode = 1;
  }
}
