import type { Expression, ExpressionBuilder, Selectable, SqlBool } from 'kysely';
import type { Queryable } from './database.ts';
import { prepared } from './prepared.ts';
import type { Schema, VerificationCodesTable, VerificationSendsTable } from './schema.ts';
import type { WindowCount } from './event-window.ts';

export interface CodeRecord {
  interactionUid: string;
  purpose: string;
  email: string;
  codeHmac: string;
  failedAttempts: number;
  expiresAt: number;
  lastSentAt: number;
  consumedAt: number | null;
  createdAt: number;
  /** The sign-in link's token as an HMAC; null when the mail carried no link. */
  linkHmac: string | null;
  /** The code sealed under the link's token, for the page of a link opened in another browser. */
  linkCode: string | null;
}

const COLUMNS = [
  'interaction_uid',
  'purpose',
  'email',
  'code_hmac',
  'failed_attempts',
  'expires_at',
  'last_sent_at',
  'consumed_at',
  'created_at',
  'link_hmac',
  'link_code',
] as const;

const fromRow = (row: Selectable<VerificationCodesTable>): CodeRecord => ({
  interactionUid: row.interaction_uid,
  purpose: row.purpose,
  email: row.email,
  codeHmac: row.code_hmac,
  failedAttempts: row.failed_attempts,
  expiresAt: Number(row.expires_at),
  lastSentAt: Number(row.last_sent_at),
  consumedAt: row.consumed_at === null ? null : Number(row.consumed_at),
  createdAt: Number(row.created_at),
  linkHmac: row.link_hmac,
  linkCode: row.link_code,
});

const codeOf = (db: Queryable, p: { interactionUid: string; purpose: string }) =>
  db.selectFrom('verification_codes').select(COLUMNS).where('interaction_uid', '=', p.interactionUid).where('purpose', '=', p.purpose);

const selectCode = prepared(codeOf);

export async function findCode(db: Queryable, interactionUid: string, purpose: string): Promise<CodeRecord | undefined> {
  const [row] = (await selectCode(db, { interactionUid, purpose })).rows;
  return row && fromRow(row);
}

/**
 * Insert or replace the code of an interaction. On a conflict (a code is there) `failed_attempts` is
 * the new row's; with `keepFailuresBelow` (a resend), the replaced row's own count at the moment of
 * the write instead, unless that code was used or had reached that many failures.
 */
const codeUpsert = (db: Queryable, p: Selectable<VerificationCodesTable>, keepFailuresBelow?: number) =>
  db
    .insertInto('verification_codes')
    .values({
      interaction_uid: p.interaction_uid,
      purpose: p.purpose,
      email: p.email,
      code_hmac: p.code_hmac,
      failed_attempts: p.failed_attempts,
      expires_at: p.expires_at,
      last_sent_at: p.last_sent_at,
      consumed_at: p.consumed_at,
      created_at: p.created_at,
      link_hmac: p.link_hmac,
      link_code: p.link_code,
    })
    .onConflict((conflict) =>
      conflict.columns(['interaction_uid', 'purpose']).doUpdateSet((eb) => ({
        email: eb.ref('excluded.email'),
        code_hmac: eb.ref('excluded.code_hmac'),
        failed_attempts:
          keepFailuresBelow === undefined
            ? eb.ref('excluded.failed_attempts')
            : eb
                .case()
                .when(eb.and([eb('verification_codes.consumed_at', 'is', null), eb('verification_codes.failed_attempts', '<', keepFailuresBelow)]))
                .then(eb.ref('verification_codes.failed_attempts'))
                .else(eb.ref('excluded.failed_attempts'))
                .end(),
        expires_at: eb.ref('excluded.expires_at'),
        last_sent_at: eb.ref('excluded.last_sent_at'),
        consumed_at: eb.ref('excluded.consumed_at'),
        created_at: eb.ref('excluded.created_at'),
        link_hmac: eb.ref('excluded.link_hmac'),
        link_code: eb.ref('excluded.link_code'),
      })),
    );

const upsertCode = prepared((db, p: Selectable<VerificationCodesTable>) => codeUpsert(db, p));
const upsertResentCode = prepared((db, p: Selectable<VerificationCodesTable> & { max_attempts: number }) => codeUpsert(db, p, p.max_attempts));

const codeRow = (code: CodeRecord): Selectable<VerificationCodesTable> => ({
  interaction_uid: code.interactionUid,
  purpose: code.purpose,
  email: code.email,
  code_hmac: code.codeHmac,
  failed_attempts: code.failedAttempts,
  expires_at: code.expiresAt,
  last_sent_at: code.lastSentAt,
  consumed_at: code.consumedAt,
  created_at: code.createdAt,
  link_hmac: code.linkHmac,
  link_code: code.linkCode,
});

/** Insert or replace the live code of an interaction; the caller decides the failure count to keep. */
export async function saveCode(db: Queryable, code: CodeRecord): Promise<void> {
  await upsertCode(db, codeRow(code));
}

/**
 * A new code sent for the interaction: it replaces the previous one, whose failure count it keeps
 * (so resending cannot buy extra guesses) unless that code was used or had `maxAttempts` failures.
 * The count is the one stored when the row is written, so a wrong guess another instance counted
 * after the caller read the previous code is not lost; `code.failedAttempts` applies when there was none.
 */
export async function saveResentCode(db: Queryable, code: CodeRecord, maxAttempts: number): Promise<void> {
  await upsertResentCode(db, { ...codeRow(code), max_attempts: maxAttempts });
}

export async function deleteCode(db: Queryable, interactionUid: string, purpose: string): Promise<void> {
  await db.deleteFrom('verification_codes').where('interaction_uid', '=', interactionUid).where('purpose', '=', purpose).execute();
}

/**
 * The row a guess was checked against, as read: the same code (a resend replaces the HMAC), unused,
 * and with tries left. A write that names it changes nothing if another caller changed the row in
 * between (a guess counted to the limit, a use, a resend), and the caller reads again.
 */
type SeenCode = { interactionUid: string; purpose: string; codeHmac: string; maxAttempts: number };

const stillAsSeen = (eb: ExpressionBuilder<Schema, 'verification_codes'>, p: SeenCode) =>
  eb.and([
    eb('interaction_uid', '=', p.interactionUid),
    eb('purpose', '=', p.purpose),
    eb('code_hmac', '=', p.codeHmac),
    eb('consumed_at', 'is', null),
    eb('failed_attempts', '<', p.maxAttempts),
  ]);

const countWrongGuess = prepared((db, p: SeenCode) =>
  db
    .updateTable('verification_codes')
    .set((eb) => ({ failed_attempts: eb('failed_attempts', '+', 1) }))
    .where((eb) => stillAsSeen(eb, p))
    .returning('failed_attempts'),
);

/**
 * Counts a wrong guess at the code as the caller read it, in one statement (so guesses arriving
 * together, on any instance, each get a count of their own and no more than `maxAttempts` count).
 * Returns the new count, or undefined when the row had changed: read it again.
 */
export async function recordWrongGuess(db: Queryable, seen: SeenCode): Promise<number | undefined> {
  const [row] = (await countWrongGuess(db, seen)).rows;
  return row ? Number(row.failed_attempts) : undefined;
}

// RETURNING: its answer is looked at, so it is never sent ahead (write-ahead.ts), even in a
// transaction that sends its other writes ahead.
const consume = prepared((db, p: SeenCode & { at: number }) =>
  db
    .updateTable('verification_codes')
    .set({ consumed_at: p.at })
    .where((eb) => stillAsSeen(eb, p))
    .returning('consumed_at'),
);

/**
 * Single use: marks the code used if it is still the one the caller read and checked, unused and
 * with tries left, in one statement, so of two uses at once exactly one gets true (compare and set:
 * no lock is held between the read and this write). False: the row changed meanwhile; read it again.
 */
export async function consumeCode(db: Queryable, seen: SeenCode, at: number): Promise<boolean> {
  return (await consume(db, { ...seen, at })).rows.length === 1;
}

const addSend = prepared((db, p: Selectable<VerificationSendsTable>) =>
  db.insertInto('verification_sends').values({ id: p.id, email: p.email, ip: p.ip, sent_at: p.sent_at }),
);

export async function insertSend(db: Queryable, send: { id: string; email: string; ip: string; sentAt: number }): Promise<void> {
  await addSend(db, { id: send.id, email: send.email, ip: send.ip, sent_at: send.sentAt });
}

export async function deleteSend(db: Queryable, id: string): Promise<void> {
  await db.deleteFrom('verification_sends').where('id', '=', id).execute();
}

/**
 * What a send is checked against: the sends of the address+IP pair, the address and the IP, each in
 * its own window, with the oldest of each (to tell the person when the window frees up).
 */
export interface SendCounts {
  pair: WindowCount;
  address: WindowCount;
  ip: WindowCount;
}

type SendWindows = {
  email: string;
  ip: string;
  pairSince: number;
  addressSince: number;
  ipSince: number;
};

const sendCounts = (db: Queryable, p: SendWindows) => {
  const sends = (eb: ExpressionBuilder<Schema, never>, where: (inner: ExpressionBuilder<Schema, 'verification_sends'>) => Expression<SqlBool>) => ({
    count: eb.selectFrom('verification_sends').select((inner) => inner.fn.countAll().as('n')).where(where),
    oldest: eb.selectFrom('verification_sends').select((inner) => inner.fn.min('sent_at').as('m')).where(where),
  });
  return db.selectNoFrom((eb) => {
    const pair = sends(eb, (inner) => inner.and([inner('email', '=', p.email), inner('ip', '=', p.ip), inner('sent_at', '>=', p.pairSince)]));
    const address = sends(eb, (inner) => inner.and([inner('email', '=', p.email), inner('sent_at', '>=', p.addressSince)]));
    const ip = sends(eb, (inner) => inner.and([inner('ip', '=', p.ip), inner('sent_at', '>=', p.ipSince)]));
    return [
      pair.count.as('pair_count'),
      pair.oldest.as('pair_oldest'),
      address.count.as('address_count'),
      address.oldest.as('address_oldest'),
      ip.count.as('ip_count'),
      ip.oldest.as('ip_oldest'),
    ];
  });
};

const selectSendCounts = prepared(sendCounts);

/** The send counts, and beside them the interaction's code (NULLs when it has none). */
const selectCodeAndSendCounts = prepared((db, p: SendWindows & { interactionUid: string; purpose: string }) =>
  db
    .selectFrom(sendCounts(db, p).as('counts'))
    .leftJoin('verification_codes', (join) =>
      join.on('verification_codes.interaction_uid', '=', p.interactionUid).on('verification_codes.purpose', '=', p.purpose),
    )
    .selectAll('counts')
    .select(COLUMNS.map((column) => `verification_codes.${column}` as const)),
);

/**
 * The three send counts a new code is checked against, in one statement (each subquery uses its
 * own index): one round trip instead of three on the path of every code sent.
 */
export async function countSendsForCaps(db: Queryable, p: SendWindows): Promise<SendCounts> {
  return sendCountsOf((await selectSendCounts(db, p)).rows[0]);
}

/**
 * What a new send is checked against, in one statement: the send counts (countSendsForCaps) and the
 * interaction's current code. Not locked: the caller serializes sends for the interaction, and
 * saveResentCode carries a guess counted meanwhile over.
 */
export async function findCodeAndCountSends(
  db: Queryable,
  p: SendWindows & { interactionUid: string; purpose: string },
): Promise<{ previous: CodeRecord | undefined; sends: SendCounts }> {
  const row = (await selectCodeAndSendCounts(db, p)).rows[0];
  const previous = row && row.interaction_uid !== null ? fromRow(row as Selectable<VerificationCodesTable>) : undefined;
  return { previous, sends: sendCountsOf(row) };
}

function sendCountsOf(row: Record<`${'pair' | 'address' | 'ip'}_${'count' | 'oldest'}`, unknown> | undefined): SendCounts {
  // COUNT and MIN of a BIGINT come back as numbers from SQLite and as strings from PostgreSQL.
  const windowCount = (count: unknown, oldest: unknown): WindowCount => ({
    count: Number(count ?? 0),
    oldest: oldest === null || oldest === undefined ? null : Number(oldest),
  });
  return {
    pair: windowCount(row?.pair_count, row?.pair_oldest),
    address: windowCount(row?.address_count, row?.address_oldest),
    ip: windowCount(row?.ip_count, row?.ip_oldest),
  };
}

export async function purgeVerification(db: Queryable, codesBefore: number, sendsBefore: number): Promise<void> {
  await db.deleteFrom('verification_codes').where('expires_at', '<', codesBefore).execute();
  await db.deleteFrom('verification_sends').where('sent_at', '<', sendsBefore).execute();
}
