import { describe, expect, it } from 'vitest';
import { findModel } from '../../src/db/oidc-models.ts';
import { createAdapterFactory } from '../../src/oidc/adapter.ts';
import { writeTogether } from '../../src/oidc/request-writes.ts';
import { TEST_ENGINE, useEngineDatabase } from '../helpers/sesame.ts';

/**
 * Model writes held and made together (src/oidc/request-writes.ts), on the engine under test: the
 * adapter's writes inside writeTogether() wait for its end or for the next read, whichever comes first.
 */
describe(`model writes made together (${TEST_ENGINE})`, () => {
  const engine = useEngineDatabase('sesame-request-writes-');

  it('stores them when it ends, and earlier when a model is read', async () => {
    const adapters = createAdapterFactory(engine.current.db);
    const grants = adapters('Grant');
    const sessions = adapters('Session');
    const stored = (model: string, id: string) => findModel(engine.current.db, model, id);

    await writeTogether(engine.current.db, async () => {
      await grants.upsert('grant-1', { accountId: 'someone', clientId: 'app' }, 60);
      await sessions.upsert('session-1', { accountId: 'someone', uid: 'uid-1' }, 60);
      // Held: not in the database yet.
      expect(await stored('Grant', 'grant-1')).toBeUndefined();
      // A read through the adapter makes them first, so it sees what this scope wrote.
      expect(await sessions.findByUid('uid-1')).toMatchObject({ accountId: 'someone' });
      expect(await stored('Grant', 'grant-1')).toBeDefined();
      await sessions.destroy('session-1');
      expect(await stored('Session', 'session-1')).toBeDefined();
    });
    expect(await stored('Session', 'session-1')).toBeUndefined();
    expect(await grants.find('grant-1')).toMatchObject({ accountId: 'someone', clientId: 'app' });
  });

  it('makes them before a read only when the read may see one of them', async () => {
    const adapters = createAdapterFactory(engine.current.db);
    const [interactions, grants, tokens] = [adapters('Interaction'), adapters('Grant'), adapters('AccessToken')];
    const stored = (model: string, id: string) => findModel(engine.current.db, model, id);
    await interactions.upsert('interaction-4', { uid: 'uid-4' }, 60);
    await grants.upsert('grant-4', { accountId: 'someone', clientId: 'app' }, 60);
    await tokens.upsert('token-4', { accountId: 'someone', grantId: 'grant-4' }, 60);

    await writeTogether(engine.current.db, async () => {
      // A sign-in's return: the interaction dropped, then the grant read. The grant's read cannot see
      // the drop, so it does not wait for it.
      await interactions.destroy('interaction-4');
      expect(await grants.find('grant-4')).toMatchObject({ accountId: 'someone' });
      expect(await stored('Interaction', 'interaction-4')).toBeDefined();
      // A read of the dropped row itself makes the drop first.
      expect(await interactions.find('interaction-4')).toBeUndefined();
      expect(await stored('Interaction', 'interaction-4')).toBeUndefined();
      // A revocation may change any row: every read waits for it.
      await grants.revokeByGrantId('grant-4');
      expect(await interactions.find('interaction-none')).toBeUndefined();
      expect(await stored('AccessToken', 'token-4')).toBeUndefined();
    });
  });

  it('stores what was written before a failure, then lets the failure through', async () => {
    const grants = createAdapterFactory(engine.current.db)('Grant');
    await expect(
      writeTogether(engine.current.db, async () => {
        await grants.upsert('grant-2', { accountId: 'someone', clientId: 'app' }, 60);
        throw new Error('the page failed');
      }),
    ).rejects.toThrow('the page failed');
    expect(await grants.find('grant-2')).toMatchObject({ accountId: 'someone' });
  });

  it('writes at once outside a request or writeTogether()', async () => {
    const grants = createAdapterFactory(engine.current.db)('Grant');
    await grants.upsert('grant-3', { accountId: 'someone', clientId: 'app' }, 60);
    expect(await findModel(engine.current.db, 'Grant', 'grant-3')).toBeDefined();
  });
});
