export interface Summary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  mean: number;
}

/** Nearest-rank percentiles in milliseconds, rounded to 0.1 ms. */
export function summarize(samples: number[]): Summary {
  const sorted = Float64Array.from(samples).sort();
  const at = (q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! : 0);
  const round = (value: number) => Math.round(value * 10) / 10;
  const sum = samples.reduce((total, value) => total + value, 0);
  return {
    count: samples.length,
    p50: round(at(0.5)),
    p95: round(at(0.95)),
    p99: round(at(0.99)),
    mean: round(samples.length ? sum / samples.length : 0),
  };
}

export const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;
