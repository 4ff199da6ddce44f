// Preloaded into a Sesame the bench profiles after it has settled (bench/profile-scenario.ts with
// PROFILE_SETTLE): the first SIGUSR2 starts V8's CPU profiler on the main thread, the second stops it
// and writes the profile to PROFILE_OUT. Unlike --cpu-prof, the start-up and the JIT's warm-up are left out.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

if (isMainThread && process.env.PROFILE_OUT) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  let running = false;
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      session.post('Profiler.start');
      return;
    }
    running = false;
    session.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(process.env.PROFILE_OUT, JSON.stringify(result.profile));
    });
  });
}
