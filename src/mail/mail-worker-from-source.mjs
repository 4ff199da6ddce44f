// The mail thread's program when Sesame runs from source (npm start, tests): a worker thread on
// Node 20 does not get the TypeScript loader the process was started with, so it registers tsx
// itself before loading mail-worker.ts. The production bundle runs mail-worker.mjs instead.
import { register } from 'tsx/esm/api';

register();
await import('./mail-worker.ts');
