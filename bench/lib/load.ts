import { cpuTicks } from './processes.ts';

export interface LoadResult {
  ops: number;
  errors: number;
  firstError?: string;
  seconds: number;
  perSecond: number;
  latencies: number[];
  /** CPU the measured server used, in % of one core (100 = one core saturated). */
  serverCpu?: number;
  /** CPU this load generator (with the SMTP sink) used, in % of one core. */
  clientCpu: number;
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
  serverPid?: number;
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
  let ticksStart = 0;
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
  options.onMeasure?.();
  measuring = true;
  measureStart = performance.now();
  if (options.serverPid) ticksStart = cpuTicks(options.serverPid);
  const clientStart = process.cpuUsage();
  if (!stop) await wait(options.seconds * 1000, woken);
  const seconds = ((measureEnd ?? performance.now()) - measureStart) / 1000;
  const ticks = options.serverPid ? cpuTicks(options.serverPid) - ticksStart : 0;
  const client = process.cpuUsage(clientStart);
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
    serverCpu: options.serverPid ? Math.round(ticks / seconds) : undefined,
    clientCpu: Math.round((client.user + client.system) / 1e4 / seconds),
  };
}

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
