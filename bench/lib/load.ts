import { cpuTicks } from './processes.ts';

export interface LoadResult {
  ops: number;
  errors: number;
  firstError?: string;
  seconds: number;
  perSecond: number;
  latencies: number[];
  /** CPU the measured server used, in % of one core (100 = one core saturated); all its processes together. */
  serverCpu?: number;
  /** The same in milliseconds of CPU over the measurement (divide by `ops` for CPU per operation). */
  serverCpuMs?: number;
  /** Milliseconds of CPU each of `cpuOf`'s process groups used over the measurement. */
  cpuMs: Record<string, number>;
  /** CPU this load generator (with the SMTP sink) used, in % of one core. */
  clientCpu: number;
  /** The same in milliseconds over the measurement: it shares the cores with the server. */
  clientCpuMs: number;
}

export interface LoadOptions<T = unknown> {
  /** Names the scenario in a failure, e.g. "sign-ins" or "refresh on Sesame". */
  name?: string;
  concurrency: number;
  /** How long measuring lasts; with `operations`, the most it may last (its deadline). */
  seconds: number;
  /**
   * Count instead of time: measuring ends once this many operations have completed, and the run fails,
   * naming the scenario, when they have not completed within `seconds`.
   */
  operations?: number;
  warmupSeconds: number;
  op: (worker: number) => Promise<T>;
  /** The server's process, or processes (several instances): their CPU is summed. */
  serverPid?: number | readonly number[];
  /**
   * Further processes whose CPU to report, by name (e.g. the database server's, a proxy's), listed
   * when measuring starts and again when it ends (connections come and go).
   */
  cpuOf?: Record<string, () => Promise<readonly number[]>>;
  /** Timed runs only: stop early after this many measured operations (no failure when time runs out first). */
  maxOps?: number;
  /** Called when the warm-up ends and measuring starts. */
  onMeasure?: () => void;
  /** Called with what each operation the measurement counts returned (not warm-up ones, nor those after the end). */
  onCounted?: (value: T) => void;
}

/**
 * Runs `concurrency` workers in a closed loop: warm-up first (not counted), then measures for `seconds`,
 * or until `operations` operations have completed.
 */
export async function runLoad<T>(options: LoadOptions<T>): Promise<LoadResult> {
  const name = options.name ?? 'load';
  const target = options.operations ?? options.maxOps;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let measuring = false;
  let stop = false;
  let gaveUp = false;
  let measureStart = 0;
  let measureEnd: number | undefined;
  const serverPids = options.serverPid === undefined ? [] : typeof options.serverPid === 'number' ? [options.serverPid] : options.serverPid;
  let wake: () => void = () => undefined;
  const woken = new Promise<void>((resolve) => (wake = resolve));

  const worker = async (index: number) => {
    while (!stop) {
      const started = performance.now();
      try {
        const value = await options.op(index);
        if (measuring && (target === undefined || latencies.length < target)) {
          const now = performance.now();
          latencies.push(now - started);
          options.onCounted?.(value);
          if (target !== undefined && latencies.length >= target) {
            measureEnd = now;
            measuring = false;
            stop = true;
            wake();
          }
        }
      } catch (error) {
        if (measuring) errors += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
        if (errors > 1000 && errors > latencies.length) {
          gaveUp = true;
          stop = true;
          wake();
        }
      }
    }
  };

  const workers = Array.from({ length: options.concurrency }, (_, index) => worker(index));
  await sleep(options.warmupSeconds * 1000);
  const groups = Object.entries(options.cpuOf ?? {});
  const groupsStart = await Promise.all(groups.map(async ([, list]) => ticksOf(await list())));
  options.onMeasure?.();
  measuring = true;
  measureStart = performance.now();
  const serverStart = ticksOf(serverPids);
  const clientStart = process.cpuUsage();
  if (!stop) await wait(options.seconds * 1000, woken);
  const seconds = ((measureEnd ?? performance.now()) - measureStart) / 1000;
  const ticks = ticksSince(serverPids, serverStart);
  const client = process.cpuUsage(clientStart);
  const cpuMs = Object.fromEntries(
    await Promise.all(groups.map(async ([name, list], i) => [name, ticksSince(await list(), groupsStart[i]!) * TICK_MS] as const)),
  );
  measuring = false;
  stop = true;
  await Promise.all(workers);
  if (options.operations !== undefined && latencies.length < options.operations) {
    const why = gaveUp ? 'gave up after too many errors' : `deadline of ${options.seconds} s passed`;
    const first = firstError ? `; first error: ${firstError}` : errors ? '' : '; no operation failed, they were too slow';
    throw new Error(`${name}: ${latencies.length} of ${options.operations} operations completed, ${why} (${errors} errors${first})`);
  }
  return {
    ops: latencies.length,
    errors,
    firstError,
    seconds,
    perSecond: seconds > 0 ? latencies.length / seconds : 0,
    latencies,
    serverCpu: serverPids.length ? Math.round(ticks / seconds) : undefined,
    serverCpuMs: serverPids.length ? ticks * TICK_MS : undefined,
    cpuMs,
    clientCpu: Math.round((client.user + client.system) / 1e4 / seconds),
    clientCpuMs: (client.user + client.system) / 1000,
  };
}

/** A clock tick of /proc/<pid>/stat (USER_HZ = 100 on Linux). */
const TICK_MS = 10;

const ticksOf = (pids: readonly number[]) => new Map(pids.map((pid) => [pid, cpuTicks(pid)]));

/**
 * CPU ticks `pids` used since the `start` reading, summed. A process that started meanwhile (a new
 * database connection) counts whole; one that exited meanwhile counts nothing (its share is lost).
 */
const ticksSince = (pids: Iterable<number>, start: ReadonlyMap<number, number>) => {
  let sum = 0;
  for (const pid of pids) sum += Math.max(0, cpuTicks(pid) - (start.get(pid) ?? 0));
  return sum;
};

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Waits `ms`, or less if `early` settles first; leaves no timer behind. */
async function wait(ms: number, early: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([early, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, ms))))]);
  } finally {
    clearTimeout(timer);
  }
}
