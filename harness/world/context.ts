import { join } from 'node:path';
import { oneWayDelayMs, startWanRelay } from '../processes/wan-relay';
import { REGION_CATALOG } from './catalog';
import type { Teardown } from './teardown';
import type { WorldOptions } from './types';

/** What every phase of a world's start shares: its options, its teardown, where things are. */
export interface WorldContext {
  readonly options: WorldOptions;
  readonly teardown: Teardown;
  /** Where the global Redis and the Postgres primary are. */
  readonly home: string;
  say(line: string): void;
  /** `{ logFile }` for a server's log named `name`, when the world keeps logs. */
  log(name: string): { logFile?: string };
  /** One-way WAN delay between two regions (0 without `wan`). */
  wanMs(a: string, b: string): number;
  /** A loopback port that reaches `port` of a server in `home` from `region` (through a WAN relay). */
  reach(region: string, port: number): Promise<number>;
}

export function worldContext(options: WorldOptions, teardown: Teardown, home: string): WorldContext {
  const wanMs = (a: string, b: string) =>
    options.wan && a !== b ? oneWayDelayMs(REGION_CATALOG[a]!, REGION_CATALOG[b]!) : 0;
  return {
    options,
    teardown,
    home,
    say: options.say ?? (() => undefined),
    log: (name) => (options.logDir ? { logFile: join(options.logDir, name) } : {}),
    wanMs,
    async reach(region, target) {
      const delay = wanMs(region, home);
      if (delay === 0) return target;
      const relay = await startWanRelay({ port: target }, delay);
      teardown.defer(`WAN relay of ${region} to port ${target}`, () => relay.close());
      return relay.port;
    },
  };
}
