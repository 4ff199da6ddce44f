import { dirname, join } from 'node:path';
import { closeOnSignals, runServer } from './main.ts';
import { loadConfig, readEnvironment } from './config/index.ts';
import { startDemo } from './demo/start.ts';

/**
 * `npm start`: Sesame plus the Bookstore demo (and the dev mailbox when no SMTP is configured),
 * everything a newcomer needs to watch a sign-in work. Production runs `npm run start:server`.
 */
const sesame = await runServer();
if (sesame) {
  const config = loadConfig(readEnvironment());
  const mailboxUrl = sesame.devMailbox ? `${config.endpoint}/dev/mail` : undefined;
  try {
    const demo = await startDemo({
      sesameDb: sesame.db,
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
