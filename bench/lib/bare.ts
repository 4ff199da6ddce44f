import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, startChild, type Child } from './processes.ts';
import { signingJwks } from './seed.ts';
import { REDIRECT_URI } from './sesame.ts';

/**
 * bench/bare-provider.ts in a process of its own, as the ceiling runs it: Sesame's signing keys (read
 * from the SQLite file `sesameDatabaseFile`, written to `dir`/jwks.json) and the bench app's
 * credentials, so both servers sign and authenticate alike. `options` adds Node flags and
 * environment (a profiler, as profile-scenario.ts gives Sesame).
 */
export async function startBareProvider(
  dir: string,
  sesameDatabaseFile: string,
  client: { id: string; secret: string },
  options: { nodeArgs?: string[]; env?: Record<string, string> } = {},
): Promise<Child> {
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify(signingJwks(sesameDatabaseFile)));
  const port = await freePort();
  return startChild({
    script: 'bench/bare-provider.ts',
    port,
    probePath: '/health',
    nodeArgs: options.nodeArgs,
    env: { ...options.env, PORT: String(port), JWKS_FILE: jwksFile, CLIENT_ID: client.id, CLIENT_SECRET: client.secret, REDIRECT_URI, NODE_ENV: 'production' },
  });
}
