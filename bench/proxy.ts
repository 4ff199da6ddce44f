/**
 * `PORT=N TARGETS=http://127.0.0.1:A,http://127.0.0.1:B node --import tsx bench/proxy.ts`: the
 * round-robin proxy (lib/round-robin-proxy.ts) in a process of its own, so the bench can read its CPU
 * apart from the instances' and it does not share the load generator's event loop.
 */
import { startRoundRobinProxy } from './lib/round-robin-proxy.ts';

const targets = (process.env.TARGETS ?? '').split(',').filter(Boolean);
const proxy = await startRoundRobinProxy(targets, { port: Number(process.env.PORT) });
process.once('SIGTERM', () => void proxy.close().then(() => process.exit(0)));
