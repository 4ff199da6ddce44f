import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Views } from './views.ts';
import { Phrase } from '../i18n/index.ts';
import { requestLanguage } from './language.ts';

const ASSETS = {
  'sesame.css': 'text/css; charset=utf-8',
  'sesame.js': 'text/javascript; charset=utf-8',
  'dev-mail.css': 'text/css; charset=utf-8',
} as const;

/** The pages' own CSS and JS (read once: no external asset, no CDN) and the service's front page. */
export function assetRoutes(pages: FastifyInstance, { publicDir, issuer, views }: { publicDir: string; issuer: string; views: Views }): void {
  const assets = new Map(Object.entries(ASSETS).map(([file, type]) => [file, { type, body: readFileSync(join(publicDir, file)) }]));
  pages.get<{ Params: { file: string } }>('/assets/:file', async (request, reply) => {
    const asset = assets.get(request.params.file);
    if (!asset) return reply.code(404).type('text/plain').send('Not found');
    return reply.header('cache-control', 'public, max-age=3600').type(asset.type).send(asset.body);
  });

  pages.get('/', async (request, reply) =>
    reply.type('text/html; charset=utf-8').send(
      views.render('error', {
        title: new Phrase('errors.home.title'),
        message: new Phrase('errors.home.message', { issuer }),
        lang: requestLanguage(request),
        here: '/',
      }),
    ),
  );
}
