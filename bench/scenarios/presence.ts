import { percentile, spread } from '../stats';
import { perSystem, platforms, type Compared, type ScenarioContext } from './context';

/** Scenario: what one join costs in a room with many members (presence tells every one of them). */
export interface PresenceJoinRow {
  region: string;
  members: number;
  emptyRoomP50: Compared;
  fullRoomP50: Compared;
  fullRoomP99: Compared;
  /** Presence events the members received per measured join (ours: one per member). */
  eventsPerJoin: Compared<number>;
}

/**
 * For each system, on the first node of the region: a room filled with `members` sockets of distinct
 * users; then join acks of new users timed into that room and into empty rooms. The peers have no
 * presence: their figures are what a plain join costs.
 */
export async function measurePresenceJoin(ctx: ScenarioContext): Promise<PresenceJoinRow[]> {
  const o = ctx.options.presence;
  const runs = perSystem(() => ({
    empty: [] as number[],
    p50: [] as number[],
    p99: [] as number[],
    events: 0,
  }));
  for (let rep = 1; rep <= o.repetitions; rep++) {
    for (const platform of platforms(ctx.world)) {
      const r = await ctx.load.run({
        kind: 'presence-join',
        url: platform.node(o.region, 0).url,
        members: o.members,
        joins: o.joins,
      });
      const e = runs[platform.name];
      e.empty.push(percentile(r.emptyRoomMs, 0.5));
      e.p50.push(percentile(r.fullRoomMs, 0.5));
      e.p99.push(percentile(r.fullRoomMs, 0.99));
      e.events = r.presenceEvents / o.joins;
      ctx.say(
        `presence join ${rep}/${o.repetitions} ${platform.name}: ${o.members} members p50 ${e.p50.at(-1)!.toFixed(1)} ms, empty room ${e.empty.at(-1)!.toFixed(1)} ms`,
      );
    }
  }
  return [
    {
      region: o.region,
      members: o.members,
      emptyRoomP50: perSystem((n) => spread(runs[n].empty)),
      fullRoomP50: perSystem((n) => spread(runs[n].p50)),
      fullRoomP99: perSystem((n) => spread(runs[n].p99)),
      eventsPerJoin: perSystem((n) => runs[n].events),
    },
  ];
}
