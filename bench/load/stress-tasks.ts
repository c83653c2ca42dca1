/** Load tasks that push one node: a rising publish rate (saturation) and a hostile neighbour. */
import { setTimeout as sleep } from 'node:timers/promises';
import { percentile } from '../stats';
import type { HostileResult, HostileTask, SaturationStep, SaturationTask } from './protocol';
import { WireSocket, isMessageFrame, messageEnvelope } from './wire';

type Token = (user: string) => Promise<string>;
const runTag = () => Math.random().toString(36).slice(2, 8);

/**
 * Opens `roomSize` members of one room (one user, so joining makes one presence transition) and a
 * publisher on the same node, then for each rate publishes open loop for `stepMs` and reads p99 of
 * publish-to-receipt on the timed members. Stops after the first step that does not hold: p99 over
 * the limit, or under 99% of the envelopes received within 2 s of the step's end.
 */
export async function runSaturation(task: SaturationTask, token: Token): Promise<SaturationStep[]> {
  const room = `bench.sat.${runTag()}`;
  const sentAt: number[] = [];
  let stepFrom = 0;
  let samples: number[] = [];
  let received = 0;
  const sockets: WireSocket[] = [];
  try {
    const memberToken = await token('sat-members');
    for (let i = 0; i < task.roomSize; i++) {
      const timed = i < task.timedMembers;
      const socket = await WireSocket.open(task.url, memberToken, {
        onFrame: timed
          ? (frame) => {
              const now = performance.now();
              if (!isMessageFrame(frame)) return;
              const seq = (messageEnvelope(frame).data as { s: number }).s;
              if (seq < stepFrom) return;
              received++;
              samples.push(now - sentAt[seq]!);
            }
          : undefined,
      });
      sockets.push(socket);
      await socket.join(room);
    }
    const publisher = await WireSocket.open(task.url, await token('sat-publisher'));
    sockets.push(publisher);

    const steps: SaturationStep[] = [];
    for (const rate of task.rates) {
      stepFrom = sentAt.length;
      samples = [];
      received = 0;
      const started = performance.now();
      let sent = 0;
      while (performance.now() - started < task.stepMs) {
        const due = Math.floor(((performance.now() - started) * rate) / 1000);
        for (; sent < due; sent++) {
          const seq = sentAt.length;
          sentAt.push(performance.now());
          publisher.sendRaw(`42["publish",{"room":"${room}","data":{"s":${seq}}}]`);
        }
        await sleep(2);
      }
      const sentSeconds = (performance.now() - started) / 1000;
      const expected = sent * task.timedMembers;
      const graceUntil = performance.now() + 2_000;
      while (received < expected && performance.now() < graceUntil) await sleep(20);
      const p99 = percentile(samples, 0.99);
      const delivered = expected ? received / expected : 0;
      const held = delivered >= 0.99 && p99 <= task.p99LimitMs;
      steps.push({
        rate,
        sentPerSecond: sent / sentSeconds,
        p50: percentile(samples, 0.5),
        p99,
        delivered,
        held,
      });
      if (!held) break;
      // Let the node finish what it queued before the next step.
      await sleep(300);
    }
    return steps;
  } finally {
    for (const s of sockets) s.close();
  }
}

/** `[{},{},...]` as close to `bytes` of JSON as it gets: the costliest shape per byte to validate. */
function worstCasePayload(bytes: number): string {
  const count = Math.max(1, Math.floor((bytes - 1) / 3));
  return `[${Array.from({ length: count }, () => '{}').join(',')}]`;
}

/**
 * Well-behaved publishers (each its own user and room, publishing with acks at a steady rate) on one
 * node: their ack latencies first alone, then while one hostile client on the same node publishes
 * maximal worst-case payloads, rejoins its room with `since` (the largest recovery answer) and reads
 * history pages, each at the given rate.
 */
export async function runHostile(task: HostileTask, token: Token): Promise<HostileResult> {
  const tag = runTag();
  const sockets: WireSocket[] = [];
  const hostileAnswers: Record<string, number> = {};
  let calmFailures = 0;
  const count = (answer: string) => (hostileAnswers[answer] = (hostileAnswers[answer] ?? 0) + 1);
  try {
    const calm = await Promise.all(
      Array.from({ length: task.calmClients }, async (_, i) => {
        const s = await WireSocket.open(task.url, await token(`calm-${tag}-${i}`));
        sockets.push(s);
        return s;
      }),
    );
    const hostile = await WireSocket.open(task.url, await token(`hostile-${tag}`));
    sockets.push(hostile);
    const hostileRoom = `bench.hostile.${tag}`;
    await hostile.join(hostileRoom);

    const measureCalm = async (ms: number): Promise<number[]> => {
      const times: number[] = [];
      const interval = 1000 / task.calmRatePerClient;
      await Promise.all(
        calm.map(async (s, i) => {
          const until = performance.now() + ms;
          // Spread the clients over the interval so their publishes do not arrive together.
          await sleep((interval * i) / calm.length);
          const pending: Promise<void>[] = [];
          while (performance.now() < until) {
            const started = performance.now();
            pending.push(
              s
                .request<{ ok: boolean }>(
                  'publish',
                  { room: `bench.calm.${tag}.${i}`, data: { n: 1 } },
                  5_000,
                )
                .then(
                  (ack) => {
                    if (ack.ok) times.push(performance.now() - started);
                    else calmFailures++;
                  },
                  () => void calmFailures++,
                ),
            );
            await sleep(Math.max(0, started + interval - performance.now()));
          }
          await Promise.all(pending);
        }),
      );
      return times;
    };

    const quiet = await measureCalm(task.quietMs);

    const worstCase = {
      room: hostileRoom,
      data: JSON.parse(worstCasePayload(task.hostile.payloadBytes)) as unknown,
    };
    const first = await hostile
      .request<{ ok: boolean; id?: string; error?: { code: string } }>('publish', worstCase, 5_000)
      .catch(() => ({ ok: false, id: undefined, error: { code: 'no ack' } }));
    count(first.ok ? 'ok' : (first.error?.code ?? 'refused'));
    const since = first.id;
    let running = true;
    const ask = (event: string, payload: unknown) =>
      hostile.request<{ ok: boolean; error?: { code: string } }>(event, payload, 5_000).then(
        (a) => void count(a.ok ? 'ok' : (a.error?.code ?? 'refused')),
        () => void count('no ack'),
      );
    const at = async (perSecond: number, act: () => Promise<void> | void) => {
      if (perSecond <= 0) return;
      const pending: Promise<void>[] = [];
      while (running) {
        const started = performance.now();
        pending.push(Promise.resolve(act()));
        await sleep(Math.max(0, started + 1000 / perSecond - performance.now()));
      }
      await Promise.all(pending);
    };
    const hostileLoops = [
      at(task.hostile.publishesPerSecond, () => ask('publish', worstCase)),
      at(task.hostile.joinsPerSecond, async () => {
        await ask('leave', { room: hostileRoom });
        await ask('join', since ? { room: hostileRoom, since } : { room: hostileRoom });
      }),
      at(task.hostile.historyPerSecond, () => ask('history', { room: hostileRoom, limit: 100 })),
    ];
    await sleep(300);
    const underHostile = await measureCalm(task.hostileMs);
    running = false;
    await Promise.all(hostileLoops);
    return { quiet, underHostile, hostileAnswers, calmFailures };
  } finally {
    for (const s of sockets) s.close();
  }
}
