/** A figure over repetitions: the median, and the spread as the lowest and highest repetition. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Every repetition's value, in run order. */
  runs: number[];
}

/** The `q` quantile (0..1) of `values` by nearest rank; NaN when there are none. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function spread(runs: readonly number[]): Spread {
  return { median: median(runs), min: Math.min(...runs), max: Math.max(...runs), runs: [...runs] };
}

/** Rounds for reports: 3 significant digits below 100, whole numbers above. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  return Math.abs(value) >= 100 ? Math.round(value) : Number(value.toPrecision(3));
}

/** `median [min–max]`, or just the median when there was one repetition. */
export function formatSpread(s: Spread, unit = ''): string {
  const m = `${fmt(s.median)}${unit}`;
  return s.runs.length > 1 ? `${m} [${fmt(s.min)}–${fmt(s.max)}]` : m;
}

export function fmt(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return round(value).toLocaleString('en-US');
}
