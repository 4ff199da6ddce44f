// Preloaded into a server the bench measures with PROFILE_COUNT=promises (bench/profile-scenario.ts):
// the first SIGUSR2 starts counting the promises the main thread creates and the HTTP requests it
// receives, the second writes both to PROFILE_OUT as JSON. While oidc-provider's AsyncLocalStorage is
// on, Node runs a hook for every promise, so their number is a large share of what a request costs
// beyond its own work; unlike CPU time it does not move with the machine's load, so a change to a
// request's path shows in it exactly. The counting hook itself slows the server: read the counts, not
// the CPU figures, of such a run.
import { createHook } from 'node:async_hooks';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { isMainThread } from 'node:worker_threads';

if (isMainThread && process.env.PROFILE_OUT) {
  let counting = false;
  let promises = 0;
  let requests = 0;
  createHook({
    init(_id, type) {
      if (counting && type === 'PROMISE') promises += 1;
    },
  }).enable();
  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function countRequests(event, ...args) {
    if (counting && event === 'request') requests += 1;
    return emit.call(this, event, ...args);
  };
  process.on('SIGUSR2', () => {
    if (!counting) {
      counting = true;
      return;
    }
    counting = false;
    writeFileSync(process.env.PROFILE_OUT, JSON.stringify({ promises, requests }));
  });
}
