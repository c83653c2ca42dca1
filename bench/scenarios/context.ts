import type { LoadProcess } from '../load';
import type { BenchOptions } from '../options';
import type { BenchPlatform, BenchWorld, PlatformName } from '../platforms';
import type { Spread } from '../stats';

/** What every scenario gets: both platforms, the load process, the settings and a progress line. */
export interface ScenarioContext {
  world: BenchWorld;
  load: LoadProcess;
  options: BenchOptions;
  say(line: string): void;
}

/** A figure measured on both platforms. */
export type Compared<T = Spread> = Record<PlatformName, T>;

/** The platforms in the order each repetition measures them. */
export function platforms(world: BenchWorld): BenchPlatform[] {
  return [world.ours, world.baseline];
}
