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

/**
 * Runs `concurrency` workers in a closed loop: warm-up first (not counted), then `seconds` measured.
 * Optionally stops after `maxOps` measured operations.
 */
export async function runLoad(options: {
  concurrency: number;
  seconds: number;
  warmupSeconds: number;
  op: (worker: number) => Promise<void>;
  serverPid?: number;
  maxOps?: number;
  /** Called when the warm-up ends and measuring starts. */
  onMeasure?: () => void;
}): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let measuring = false;
  let stop = false;
  let measureStart = 0;
  let ticksStart = 0;

  const worker = async (index: number) => {
    while (!stop) {
      const started = performance.now();
      try {
        await options.op(index);
        if (measuring) {
          latencies.push(performance.now() - started);
          if (options.maxOps !== undefined && latencies.length >= options.maxOps) stop = true;
        }
      } catch (error) {
        if (measuring) errors += 1;
        firstError ??= error instanceof Error ? error.message : String(error);
        if (errors > 1000 && errors > latencies.length) stop = true;
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
  const until = measureStart + options.seconds * 1000;
  while (!stop && performance.now() < until) await sleep(Math.min(50, until - performance.now()));
  const seconds = (performance.now() - measureStart) / 1000;
  const ticks = options.serverPid ? cpuTicks(options.serverPid) - ticksStart : 0;
  const client = process.cpuUsage(clientStart);
  measuring = false;
  stop = true;
  await Promise.all(workers);
  return {
    ops: latencies.length,
    errors,
    firstError,
    seconds,
    perSecond: latencies.length / seconds,
    latencies,
    serverCpu: options.serverPid ? Math.round(ticks / seconds) : undefined,
    clientCpu: Math.round((client.user + client.system) / 1e4 / seconds),
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
