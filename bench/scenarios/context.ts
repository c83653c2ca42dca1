import type { LoadProcess } from '../load';
import type { BenchOptions } from '../options';
import { SYSTEMS, type BenchPlatform, type BenchWorld, type PlatformName } from '../platforms';
import type { Spread } from '../stats';

/** What every scenario gets: the three systems, the load process, the settings and a progress line. */
export interface ScenarioContext {
  world: BenchWorld;
  load: LoadProcess;
  options: BenchOptions;
  say(line: string): void;
}

/** A figure measured on each system (`ours`, `seeds`, `streams`). */
export type Compared<T = Spread> = Record<PlatformName, T>;

/** The systems in the order each repetition measures them. */
export function platforms(world: BenchWorld): BenchPlatform[] {
  return SYSTEMS.map((name) => world[name]);
}

/** `fn` applied to each system's name, as a Compared record. */
export function perSystem<T>(fn: (name: PlatformName) => T): Compared<T> {
  return Object.fromEntries(SYSTEMS.map((name) => [name, fn(name)])) as Compared<T>;
}
