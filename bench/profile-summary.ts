/**
 * `node --import tsx bench/profile-summary.ts FILE.cpuprofile [top]`: where a V8 CPU profile spent
 * its time, by function (self time) and by package / source file, to name bottlenecks precisely.
 */
import { readFileSync } from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error('usage: profile-summary.ts FILE.cpuprofile [top]');
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);

const where = (url: string) => {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  const src = /\/(src\/.*|bench\/.*)$/.exec(url)?.[1];
  if (src) return src;
  return url.startsWith('node:') ? url : url ? 'other' : '(native/gc/idle)';
};

const functions = new Map<string, number>();
const places = new Map<string, number>();
for (const [id, time] of self) {
  const node = byId.get(id)!;
  const { functionName, url, lineNumber } = node.callFrame;
  const key = `${functionName || '(anonymous)'} ${where(url)}:${lineNumber + 1}`;
  functions.set(key, (functions.get(key) ?? 0) + time);
  places.set(where(url), (places.get(where(url)) ?? 0) + time);
}
const show = (title: string, map: Map<string, number>) => {
  console.log(`\n${title}`);
  for (const [key, time] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`${((time / total) * 100).toFixed(1).padStart(5)}%  ${(time / 1000).toFixed(0).padStart(7)} ms  ${key}`);
  }
};
console.log(`total ${(total / 1e6).toFixed(1)} s sampled`);
show('self time by function', functions);
show('self time by package / file', places);

// Inclusive time: a function's own samples plus everything it called (each frame counted once per sample).
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
const inclusive = new Map<string, number>();
for (const [id, time] of self) {
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const { functionName, url, lineNumber } = byId.get(at)!.callFrame;
    if (!url.includes('/src/') && !url.includes('node_modules')) continue;
    const key = `${functionName || '(anonymous)'} ${where(url)}:${lineNumber + 1}`;
    if (seen.has(key)) continue;
    seen.add(key);
    inclusive.set(key, (inclusive.get(key) ?? 0) + time);
  }
}
show('inclusive time by function (our code and packages)', inclusive);
