import type { Machine } from './machine';
import type { BenchOptions } from './options';
import type { ClusterRow } from './scenarios/cluster';
import type { FanoutRow } from './scenarios/fanout';
import type { FootprintReport } from './scenarios/footprint';
import type { HandshakeRow } from './scenarios/handshake';
import type { HostileRow } from './scenarios/hostile';
import type { LatencyPath, WanOverhead } from './scenarios/latency';
import type { MemoryRow } from './scenarios/memory';
import type { PresenceJoinRow } from './scenarios/presence';
import type { SaturationRow } from './scenarios/saturation';

/** Everything one run measured: the JSON written under the results folder. */
export interface BenchResult {
  schema: 2;
  date: string;
  mode: BenchOptions['mode'];
  durationS: number;
  machine: Machine;
  versions: Record<string, string>;
  settings: {
    options: BenchOptions;
    nodeEnv: Record<string, string>;
    homeRegion: string;
    wanOneWayMs: Record<string, number>;
  };
  scenarios: {
    latency: LatencyPath[];
    fanout: FanoutRow[];
    saturation: SaturationRow[];
    hostile: HostileRow[];
    presence: PresenceJoinRow[];
    memory: MemoryRow[];
    handshake: HandshakeRow[];
    wanOverhead: WanOverhead[];
    footprint: FootprintReport[];
    cluster: ClusterRow[];
  };
}
