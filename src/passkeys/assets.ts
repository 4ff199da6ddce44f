import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';

/**
 * The scripts and styles of the passkey pages, read once at start and served from Sesame itself (no
 * CDN; script-src stays 'self'): @simplewebauthn/browser's browser bundle straight from node_modules
 * (the installed version, so it always matches @simplewebauthn/server), and our own small files in
 * public/.
 */
export function passkeyAssetRoutes(pages: FastifyInstance, publicDir: string): void {
  const require = createRequire(import.meta.url);
  // The package's CommonJS entry is <root>/script/index.js; its browser bundle is <root>/dist/bundle/.
  const packageRoot = dirname(dirname(require.resolve('@simplewebauthn/browser')));
  const files = [
    { url: '/assets/simplewebauthn-browser.js', path: join(packageRoot, 'dist', 'bundle', 'index.umd.min.js'), type: 'text/javascript; charset=utf-8' },
    { url: '/assets/passkeys.js', path: join(publicDir, 'passkeys.js'), type: 'text/javascript; charset=utf-8' },
    { url: '/assets/account.css', path: join(publicDir, 'account.css'), type: 'text/css; charset=utf-8' },
  ];
  for (const file of files) {
    const body = readFileSync(file.path);
    pages.get(file.url, async (_request, reply) => reply.header('cache-control', 'public, max-age=3600').type(file.type).send(body));
  }
}
