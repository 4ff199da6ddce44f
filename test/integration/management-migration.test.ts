import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sql } from 'kysely';
import { openSqlite } from '../../src/db/sqlite.ts';
import { migrate } from '../../src/db/migrate.ts';
import { findResourceByIndicator, listScopes } from '../../src/db/resources.ts';
import { tempDir } from '../helpers/sesame.ts';

const SQLITE_MIGRATIONS = resolve(import.meta.dirname, '../../migrations/sqlite');

/** SQLite: migration 0009 moves each resource's JSON list of scopes into rows of their own. */
describe('SQLite: migration 0009 keeps the scopes of existing API resources', () => {
  const dir = tempDir();
  afterAll(() => dir.remove());

  it('turns the scopes column into api_resource_scopes rows, in order', async () => {
    const before = join(dir.path, 'migrations');
    mkdirSync(before);
    const files = readdirSync(SQLITE_MIGRATIONS).filter((file) => /^\d{4}_.*\.sql$/.test(file)).sort();
    for (const file of files.filter((name) => Number(name.slice(0, 4)) < 9)) copyFileSync(join(SQLITE_MIGRATIONS, file), join(before, file));
    const db = openSqlite(join(dir.path, 'sesame.db'));
    try {
      await migrate(db, before);
      await sql`INSERT INTO api_resources (id, indicator, name, scopes, access_token_ttl, created_at)
                VALUES ('r1', 'https://api.example.com', 'API', '["read:books","write:books"]', 600, 1000),
                       ('r2', 'https://empty.example.com', 'Empty', '[]', 600, 2000)`.execute(db);
      for (const file of files.filter((name) => Number(name.slice(0, 4)) >= 9)) copyFileSync(join(SQLITE_MIGRATIONS, file), join(before, file));
      await migrate(db, before);
      expect((await findResourceByIndicator(db, 'https://api.example.com'))?.scopes).toEqual(['read:books', 'write:books']);
      expect((await findResourceByIndicator(db, 'https://empty.example.com'))?.scopes).toEqual([]);
      const rows = await listScopes(db, 'r1');
      expect(rows.map((row) => [row.name, row.description, row.createdAt])).toEqual([
        ['read:books', null, 1000],
        ['write:books', null, 1000],
      ]);
      expect(new Set(rows.map((row) => row.id)).size).toBe(2);
    } finally {
      await db.destroy();
    }
  });
});
