/**
 * The WORKERS part of `npm run bench` alone (about a minute and a half instead of 12):
 *
 *   node --import tsx bench/workers-only.ts [--workers 1,2] [--duration S]
 *
 * One Sesame per WORKERS setting on a fresh SQLite database of its own, sign-ins in alternating
 * slices (lib/workers.ts), with the same defaults as the full bench. Prints the same table. For
 * checking issue 13's 200 sign-ins/s after a change.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULTS } from './bench.ts';
import { startMailSink } from './lib/mail-sink.ts';
import type { BenchOptions } from './lib/scenarios.ts';
import { formatWorkers, runWorkersScenario } from './lib/workers.ts';

const { values } = parseArgs({ options: { duration: { type: 'string' }, workers: { type: 'string' } } });
const options: BenchOptions = { ...DEFAULTS, duration: Number(values.duration ?? DEFAULTS.duration), log: (line) => console.log(line) };
const counts = (values.workers ?? '1,2').split(',').map((n) => (n === 'auto' ? availableParallelism() : Number(n)));
const work = mkdtempSync(join(tmpdir(), 'sesame-workers-'));
const sink = await startMailSink();
try {
  const results = await runWorkersScenario(options, sink, work, counts);
  console.log(formatWorkers(results).join('\n'));
  console.log(JSON.stringify(results));
} finally {
  await sink.close();
  rmSync(work, { recursive: true, force: true });
}
