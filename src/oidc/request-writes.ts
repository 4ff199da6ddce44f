import Provider, { errors } from 'oidc-provider';
import providerContext from 'oidc-provider/lib/helpers/als.js';
import type { Database, Queryable } from '../db/database.ts';
import { writeAhead } from '../db/write-ahead.ts';
import { writeTransient } from '../db/transient.ts';

type Write = (db: Queryable) => Promise<void>;

/** One stored oidc-provider model row (model and id), or every row of a model (`id` undefined). */
export interface ModelRowKey {
  model: string;
  id?: string;
}

export interface WriteOptions {
  /** Sign-in progress only (src/db/transient.ts): a flush of nothing else commits without waiting for the disk. */
  transient?: boolean;
  /**
   * What the write changes, for reads of models that come while it is held: one model row, or 'no
   * model' (an account, a code: nothing the adapter reads). A read made first only when it may see
   * the write (see RequestWrites.flushBefore). Default: it may change any row, so every read makes it first.
   */
  touches?: ModelRowKey | 'no model';
}

interface HeldWrite {
  write: Write;
  transient: boolean;
  touches: WriteOptions['touches'];
}

/** Whether a read of `read` may see what a write that `touches` changes. */
function mayAffect(touches: HeldWrite['touches'], read: ModelRowKey): boolean {
  if (touches === 'no model') return false;
  if (!touches) return true;
  return touches.model === read.model && (read.id === undefined || touches.id === undefined || touches.id === read.id);
}

/**
 * The writes one oidc-provider request makes to its stored models (a sign-in's return to
 * /oidc/auth saves the session, the grant and the authorization code and drops the interaction; a
 * token exchange stores an access and a refresh token), made together in one transaction when the
 * request's answer is ready, or earlier when the request reads a model (so it always reads what it
 * wrote; a read of a row no held write changes does not wait: a sign-in's return drops the interaction
 * and then reads the grant). One commit instead of one per write on SQLite; on PostgreSQL one round
 * trip (the writes go out with the COMMIT, see write-ahead.ts) and all or nothing.
 *
 * Nothing leaves before they are stored: koa sends the answer (the redirect with the code, the
 * tokens) only after holdRequestWrites' middleware has flushed them, and a failed flush turns the
 * answer into the 503 of faults.ts. Writes made outside an oidc-provider request (the sign-in pages)
 * are held only inside writeTogether().
 */
class RequestWrites {
  private writes: HeldWrite[] = [];
  private flushing: Promise<void> | undefined;

  constructor(private readonly db: Database) {}

  add(write: Write, { transient = false, touches }: WriteOptions = {}): void {
    this.writes.push({ write, transient, touches });
  }

  /** Before a read of `read`: the held writes are made first (the promise) if any of them may change what it reads. */
  flushBefore(read: ModelRowKey): Promise<void> | undefined {
    if (this.flushing || this.writes.some((held) => mayAffect(held.touches, read))) return this.flush();
    return undefined;
  }

  /** Nothing held and no flush running: flush() would have nothing to do or wait for. */
  get settled(): boolean {
    return !this.flushing && this.writes.length === 0;
  }

  async flush(): Promise<void> {
    // A read that comes while a flush runs waits for it: it must see those writes.
    while (this.flushing) await this.flushing;
    if (this.writes.length === 0) return;
    const writes = this.writes;
    this.writes = [];
    this.flushing = undoneOnRefusal(this.db, () => this.run(writes)).finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  private async run(held: HeldWrite[]): Promise<void> {
    const all = async (q: Queryable) => {
      for (const { write } of held) await write(q);
    };
    if (held.every((one) => one.transient)) return writeTransient(this.db, all, { single: held.length === 1 });
    if (held.length === 1) return held[0]!.write(this.db);
    await this.db.transaction().execute((tx) => writeAhead(tx, () => all(tx)));
  }
}

/**
 * An error a held write throws when it must not be made after all (a single-use model another
 * request used first): the flush's transaction is rolled back whole, then `afterUndo` runs, then the
 * error goes on to whoever flushed (oidc-provider's error handling, or holdRequestWrites).
 */
export interface Undoing {
  afterUndo(db: Database): Promise<void>;
}

const isUndoing = (error: unknown): error is Undoing => typeof (error as Partial<Undoing> | undefined)?.afterUndo === 'function';

/** Runs `writes`; when one refused (an Undoing error), its afterUndo runs once they are undone, then the error goes on. */
async function undoneOnRefusal(db: Database, writes: () => Promise<void>): Promise<void> {
  try {
    await writes();
  } catch (error) {
    if (isUndoing(error)) await error.afterUndo(db);
    throw error;
  }
}

/**
 * The held writes of each oidc-provider request (keyed by its koa context) and of each writeTogether()
 * running (keyed by a scope object of its own), found through oidc-provider's request context.
 */
const heldByRequest = new WeakMap<object, RequestWrites>();

/** The held writes of the current oidc-provider request, or of the writeTogether() running (undefined: none). */
function heldWrites(): RequestWrites | undefined {
  const ctx = Provider.ctx;
  return ctx && heldByRequest.get(ctx);
}

/**
 * Runs `fn` holding the model writes it makes (through oidc-provider's models), then makes them in one
 * transaction before returning: for a sign-in page that saves a grant and then the interaction's
 * result, one commit (SQLite) or round trip (PostgreSQL) instead of two. Answer the browser only
 * after it resolves.
 *
 * The scope rides in oidc-provider's own AsyncLocalStorage (what Provider.ctx reads; oidc-provider
 * itself reads it only for client ID metadata documents, a feature Sesame leaves off) rather than in
 * one of ours: every AsyncLocalStorage in use makes Node run its hook on every promise the process
 * creates, and a second one cost a userinfo request some 7% of its CPU (bench/ab-builds.ts --scenario
 * userinfo). Inside an oidc-provider request the request's own held writes already take them, so `fn`
 * just runs.
 */
export async function writeTogether<T>(db: Database, fn: () => Promise<T>): Promise<T> {
  if (heldWrites()) return fn();
  const writes = new RequestWrites(db);
  const scope = {};
  heldByRequest.set(scope, writes);
  return madeAfter(writes, () => providerContext.run(scope, fn));
}

/** Runs `fn`, then makes `writes`; when `fn` fails, they are made too (as each would have been at once) and its error goes on. */
async function madeAfter<T>(writes: RequestWrites, fn: () => Promise<T>): Promise<T> {
  let value: T;
  try {
    value = await fn();
  } catch (error) {
    await writes.flush().catch(() => undefined);
    throw error;
  }
  // Most requests under /oidc (userinfo, introspection, discovery) write nothing: no flush to wait for.
  if (!writes.settled) await writes.flush();
  return value;
}

/** Runs `write` now, or holds it until the current oidc-provider request reads or answers. */
export async function writeOrHold(db: Database, write: Write, options: WriteOptions = {}): Promise<void> {
  const held = heldWrites();
  if (held) return held.add(write, options);
  await undoneOnRefusal(db, () => (options.transient ? writeTransient(db, write, { single: true }) : write(db)));
}

/**
 * Before a read of `read`: the writes this request holds that it may see are made first (all of them,
 * in one transaction; wait for the promise), or undefined when there are none. Every adapter read asks,
 * and most find nothing held: they go on at once, without a promise to wait for.
 */
export function flushHeldWrites(read: ModelRowKey): Promise<void> | undefined {
  return heldWrites()?.flushBefore(read);
}

/**
 * Holds each request's model writes (see RequestWrites). Register after handleOidcFaults, so that a
 * flush that fails (the database went away) is answered as the 503 it is.
 *
 * A flush a held write refused with an OAuth error (an authorization code another request redeemed
 * between this one's read and its commit) undoes the answer too: the tokens it carried were never
 * stored, and the client gets the error instead, as oidc-provider would have answered it.
 */
export function holdRequestWrites(provider: Provider, db: Database): void {
  provider.use(async (ctx, next) => {
    const writes = new RequestWrites(db);
    heldByRequest.set(ctx, writes);
    try {
      await madeAfter(writes, next);
    } catch (error) {
      if (!(error instanceof errors.OIDCProviderError)) throw error;
      ctx.status = error.status;
      ctx.type = 'json';
      ctx.body = { error: error.error, error_description: error.error_description };
      ctx.remove('Location');
      if (ctx.oidc?.route === 'token') provider.emit('grant.error', ctx, error);
    }
  });
}
