/** Load tasks for what a long run leaves behind (footprint) and what one presence join costs. */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FootprintResult, FootprintTask, PresenceJoinResult, PresenceJoinTask } from './protocol';
import { WireSocket } from './wire';

type Token = (user: string) => Promise<string>;
const runTag = () => Math.random().toString(36).slice(2, 8);

/**
 * One publisher per region keeps `window` publishes in flight (closed loop: a steady stream as fast
 * as the platform acks it) until it has `perRegion` acks, cycling over `rooms` rooms.
 */
export async function runFootprint(task: FootprintTask, token: Token): Promise<FootprintResult> {
  const accepted: Record<string, number> = {};
  const refused: Record<string, number> = {};
  const data = { text: 'x'.repeat(task.dataBytes) };
  const started = performance.now();
  await Promise.all(
    task.publishers.map(async ({ region, url }) => {
      accepted[region] = 0;
      refused[region] = 0;
      const socket = await WireSocket.open(url, await token(`footprint-${region}`));
      let issued = 0;
      const lane = async () => {
        while (issued < task.perRegion) {
          const n = issued++;
          const room = `${task.roomPrefix}${region}.${n % task.rooms}`;
          const ack = await socket
            .request<{ ok: boolean }>('publish', { room, data }, 15_000)
            .catch(() => ({ ok: false }));
          if (ack.ok) accepted[region]!++;
          else refused[region]!++;
        }
      };
      try {
        await Promise.all(Array.from({ length: task.window }, lane));
      } finally {
        socket.close();
      }
    }),
  );
  return { accepted, refused, seconds: (performance.now() - started) / 1000 };
}

/**
 * Fills a room with `members` sockets, one user each (so every member is one presence entry), then
 * times `joins` sequential joins of new users into it, and as many into an empty room for the
 * reference. Each join in the full room tells every member.
 */
export async function runPresenceJoin(task: PresenceJoinTask, token: Token): Promise<PresenceJoinResult> {
  const tag = runTag();
  const full = `bench.presence.${tag}.full`;
  const sockets: WireSocket[] = [];
  let presenceEvents = 0;
  let counting = false;
  const PRESENCE = Buffer.from('42["presence",');
  try {
    let next = 0;
    const worker = async () => {
      while (next < task.members) {
        const i = next++;
        const s = await WireSocket.open(task.url, await token(`member-${tag}-${i}`), {
          onFrame: (frame) => {
            if (counting && frame.compare(PRESENCE, 0, PRESENCE.length, 0, PRESENCE.length) === 0)
              presenceEvents++;
          },
        });
        sockets.push(s);
        await s.join(full);
      }
    };
    await Promise.all(Array.from({ length: Math.min(32, task.members) }, worker));
    // Let the presence events of the fill settle before timing.
    await sleep(1_000);

    const timeJoins = async (room: (i: number) => string, prefix: string): Promise<number[]> => {
      const times: number[] = [];
      for (let i = 0; i < task.joins; i++) {
        const s = await WireSocket.open(task.url, await token(`${prefix}-${tag}-${i}`));
        sockets.push(s);
        const started = performance.now();
        await s.join(room(i));
        times.push(performance.now() - started);
      }
      return times;
    };
    const emptyRoomMs = await timeJoins((i) => `bench.presence.${tag}.empty.${i}`, 'lonely');
    counting = true;
    const fullRoomMs = await timeJoins(() => full, 'joiner');
    await sleep(500);
    counting = false;
    return { emptyRoomMs, fullRoomMs, presenceEvents };
  } finally {
    for (const s of sockets) s.close();
  }
}
