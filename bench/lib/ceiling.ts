/**
 * The sign-in ceiling: Sesame's complete email-code sign-in against the least a code-flow sign-in can
 * cost, bare oidc-provider's one-form-post sign-in (bare-provider.ts), in the same run and in
 * alternating slices. Beside it, what Sesame's sign-in does that the bare one does not: the code mail
 * (its CPU measured alone, in a process of its own) and the SQL statements. Target: Sesame's CPU per
 * sign-in at most 1.5 x bare's plus one mail.
 */
import { countRequests } from './http.ts';
import { runLoad, type LoadResult } from './load.ts';
import type { MailSink } from './mail-sink.ts';
import { formSignIn, type Server } from './oidc.ts';
import { runJsonScript } from './processes.ts';
import { alternate, measured, perOperation, throughput, type BenchOptions, type SignInDriver, type Throughput } from './scenarios.ts';
import { round } from './stats.ts';

export interface FlowFigures extends Throughput {
  signIns: number;
  /** CPU of the server process per sign-in, ms (Sesame: mail rendering and sending and SQLite included). */
  cpuMsPerSignIn: number;
  /** CPU of the load generator per sign-in, ms (Sesame's: the SMTP sink parsing the mail too). */
  clientCpuMsPerSignIn: number;
  /** HTTP requests the load generator sends for one sign-in, token exchange included. */
  requestsPerSignIn: number;
  firstError?: string;
}

/** bench/mail-cost.ts's answer: CPU ms per code mail, the no-op loop's baseline already subtracted. */
export interface MailCost {
  sends: number;
  renderMs: number;
  renderAndSendMs: number;
  baselineMs: number;
}

/** bench/statements-per-sign-in.ts's answer. */
export interface Statements {
  signIns: number;
  statements: number;
  perSignIn: number;
  /** Of perSignIn: BEGIN, COMMIT, SAVEPOINT, RELEASE, ROLLBACK. */
  transactionControlPerSignIn?: number;
}

export interface CeilingResults {
  sesame: FlowFigures;
  bare: FlowFigures;
  /**
   * The same bare provider with its models in SQLite (lib/bare-sqlite-adapter.ts) instead of memory:
   * not the target's comparison, but what durable storage alone costs a bare provider, as Sesame pays
   * for storage too.
   */
  bareOnSqlite?: FlowFigures;
  /** Sesame / bare (and Sesame / bare on SQLite). */
  ratios: { perSecond: number; cpuMsPerSignIn: number; cpuMsPerSignInVsBareOnSqlite?: number };
  mail: MailCost;
  statementsPerSignIn: Statements;
  /** The target's right-hand side: 1.5 x bare CPU per sign-in + one mail, ms. */
  cpuBudgetMs: number;
}

interface FlowTarget {
  name: string;
  op: () => Promise<unknown>;
  pid: number;
}

export async function runCeiling(
  options: BenchOptions,
  sink: MailSink,
  sesame: { driver: SignInDriver; pid: number },
  bare: { server: Server; pid: number },
  bareOnSqlite?: { server: Server; pid: number },
): Promise<CeilingResults> {
  const flows: FlowTarget[] = [
    { name: 'Sesame email-code sign-ins', op: sesame.driver.op, pid: sesame.pid },
    { name: 'bare oidc-provider one-form sign-ins', op: () => formSignIn(bare.server), pid: bare.pid },
    ...(bareOnSqlite ? [{ name: 'bare oidc-provider on SQLite one-form sign-ins', op: () => formSignIn(bareOnSqlite.server), pid: bareOnSqlite.pid }] : []),
  ];
  const requests: number[] = [];
  for (const flow of flows) requests.push(await requestsPerSignIn(flow));
  const span = options.operations ? `${options.operations.signIns} sign-ins` : `${options.duration / 2} s`;
  options.log(`sign-in ceiling: Sesame (SQLite, WORKERS=1) vs bare oidc-provider${bareOnSqlite ? ' (in memory, and on SQLite)' : ''}, ${options.concurrency} concurrent, slices of ${span}`);
  const results = await alternate(flows, (flow, warmup) =>
    runLoad({
      name: flow.name,
      concurrency: options.concurrency,
      ...measured(options, 'signIns', options.duration / 2),
      warmupSeconds: warmup ? Math.max(options.warmup, options.settle) : 0,
      op: flow.op,
      serverPid: flow.pid,
    }),
  );
  const [ofSesame, ofBare, ofBareOnSqlite] = results.map((result, i) => flowFigures(result, requests[i]!));
  const mail = await measureMailCost(options, sink);
  const statementsPerSignIn = await countStatements(options);
  const ratio = (a: number, b: number) => round(b ? a / b : 0, 2);
  const ceiling: CeilingResults = {
    sesame: ofSesame!,
    bare: ofBare!,
    ...(ofBareOnSqlite && { bareOnSqlite: ofBareOnSqlite }),
    ratios: {
      perSecond: ratio(ofSesame!.perSecond, ofBare!.perSecond),
      cpuMsPerSignIn: ratio(ofSesame!.cpuMsPerSignIn, ofBare!.cpuMsPerSignIn),
      ...(ofBareOnSqlite && { cpuMsPerSignInVsBareOnSqlite: ratio(ofSesame!.cpuMsPerSignIn, ofBareOnSqlite.cpuMsPerSignIn) }),
    },
    mail,
    statementsPerSignIn,
    cpuBudgetMs: round(1.5 * ofBare!.cpuMsPerSignIn + mail.renderAndSendMs, 2),
  };
  options.log(
    `  Sesame ${ceiling.sesame.perSecond}/s (${ceiling.sesame.cpuMsPerSignIn} ms CPU), bare ${ceiling.bare.perSecond}/s (${ceiling.bare.cpuMsPerSignIn} ms CPU)${ofBareOnSqlite ? `, bare on SQLite ${ofBareOnSqlite.perSecond}/s (${ofBareOnSqlite.cpuMsPerSignIn} ms CPU)` : ''}; mail ${mail.renderAndSendMs} ms CPU; ${statementsPerSignIn.perSignIn} SQL statements per sign-in (${statementsPerSignIn.transactionControlPerSignIn} transaction control)`,
  );
  return ceiling;
}

/** Counted one sign-in at a time, alone, so no other flow's requests mix in; two, as Sesame alternates new and returning people. */
async function requestsPerSignIn(flow: FlowTarget): Promise<number> {
  const runs = 2;
  let requests = 0;
  for (let i = 0; i < runs; i += 1) requests += (await countRequests(flow.op)).requests;
  return requests / runs;
}

function flowFigures(result: LoadResult, requestsPerSignIn: number): FlowFigures {
  const perSignIn = (ms: number | undefined) => perOperation(result, ms) ?? 0;
  return {
    ...throughput(result),
    signIns: result.ops,
    cpuMsPerSignIn: perSignIn(result.serverCpuMs),
    clientCpuMsPerSignIn: perSignIn(result.clientCpuMs),
    requestsPerSignIn,
    firstError: result.firstError,
  };
}

/** bench/mail-cost.ts in a child process, sending to the bench's sink (whose parsing runs here, not in the child). */
function measureMailCost(options: BenchOptions, sink: MailSink): Promise<MailCost> {
  const [sends, warmup] = options.quick ? [50, 10] : [1000, 100];
  options.log(`mail CPU: ${sends} code mails rendered and sent over SMTP in a process of their own`);
  return runJsonScript<MailCost>('bench/mail-cost.ts', [String(sends), String(warmup)], { SMTP_PORT: String(sink.port) });
}

/** bench/statements-per-sign-in.ts in a child process (it runs Sesame in its own process to wrap the SQLite engine). */
function countStatements(options: BenchOptions): Promise<Statements> {
  const signIns = options.quick ? 2 : 10;
  options.log(`SQL statements: counting over ${signIns} sign-ins`);
  return runJsonScript<Statements>('bench/statements-per-sign-in.ts', [String(signIns), '--json']);
}

/** The ceiling's part of the bench table. */
export function formatCeiling(c: CeilingResults): string[] {
  const lines: string[] = [];
  const row = (...cells: Array<string | number>) => lines.push(cells.map((cell, i) => String(cell).padEnd(i === 0 ? 30 : 11)).join(' ').trimEnd());
  lines.push('sign-in ceiling: Sesame email-code (SQLite, WORKERS=1) vs bare oidc-provider one-form sign-in, alternating slices');
  row('  (CPU: ms per sign-in)', 'per s', 'p95 ms', 'server CPU', 'client CPU', 'HTTP reqs', 'errors');
  const flows: Array<[string, FlowFigures | undefined]> = [
    ['Sesame', c.sesame],
    ['bare oidc-provider', c.bare],
    ['bare on SQLite', c.bareOnSqlite],
  ];
  for (const [name, f] of flows) {
    if (f) row(`    ${name}`, f.perSecond, f.p95, f.cpuMsPerSignIn, f.clientCpuMsPerSignIn, f.requestsPerSignIn, f.errors);
  }
  lines.push(`    Sesame/bare: ${c.ratios.perSecond} of the sign-ins/s, ${c.ratios.cpuMsPerSignIn} x the CPU per sign-in`);
  if (c.bareOnSqlite) {
    lines.push(
      `    bare on SQLite (its models in SQLite, one autocommit statement per call): ${c.bareOnSqlite.cpuMsPerSignIn} ms, ${round(c.bareOnSqlite.cpuMsPerSignIn - c.bare.cpuMsPerSignIn, 2)} ms for storage; Sesame/bare on SQLite ${c.ratios.cpuMsPerSignInVsBareOnSqlite} x the CPU per sign-in`,
    );
  }
  lines.push(
    `    mail ms CPU: ${c.mail.renderAndSendMs} per code mail (render ${c.mail.renderMs}, no-op baseline ${c.mail.baselineMs} subtracted; ${c.mail.sends} sends)`,
  );
  lines.push(
    `    SQL statements per sign-in: Sesame ${c.statementsPerSignIn.perSignIn} (${c.statementsPerSignIn.statements} over ${c.statementsPerSignIn.signIns}; ${c.statementsPerSignIn.transactionControlPerSignIn} of them transaction control, one sign-in at a time), bare none (in-memory adapter)`,
  );
  lines.push(`    CPU budget 1.5 x bare + mail = ${c.cpuBudgetMs} ms; Sesame ${c.sesame.cpuMsPerSignIn} ms`);
  return lines;
}
