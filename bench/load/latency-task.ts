import type { LatencyResult, LatencyTask } from './protocol';
import { WireSocket, isMessageFrame, messageEnvelope } from './wire';

type Token = (user: string) => Promise<string>;

/**
 * Publishes `warmup + count` envelopes per origin at a fixed rate (open loop: the next publish never
 * waits for an ack), and records, for every receiver, the time from the publish leaving this process
 * to the envelope arriving. Sender and receivers live in this process, so one clock measures both.
 */
export async function runLatency(task: LatencyTask, token: Token): Promise<LatencyResult> {
  const runId = Math.random().toString(36).slice(2, 8);
  const total = task.warmup + task.count;
  const samples: Record<string, number[]> = {};
  const got: Record<string, number> = {};
  const sockets: WireSocket[] = [];
  const origins = await Promise.all(
    task.origins.map(async (origin) => {
      const room = `bench.lat.${origin.name}.${runId}`;
      const sentAt = new Float64Array(total).fill(-1);
      for (const r of origin.receivers) {
        samples[r.path] = [];
        got[r.path] = 0;
        const socket = await WireSocket.open(r.url, await token(`recv-${r.path}`), {
          onFrame(frame) {
            const now = performance.now();
            if (!isMessageFrame(frame)) return;
            const seq = (messageEnvelope(frame).data as { s: number }).s;
            got[r.path]!++;
            if (seq >= task.warmup && sentAt[seq]! >= 0) samples[r.path]!.push(now - sentAt[seq]!);
          },
        });
        sockets.push(socket);
        await socket.join(room);
      }
      const sender = await WireSocket.open(origin.url, await token(`send-${origin.name}`));
      sockets.push(sender);
      return { origin, room, sentAt, sender };
    }),
  );

  try {
    // A build that does not know a publish option refuses it: say so rather than time nothing.
    for (const o of origins) {
      const ack = await o.sender.request<{ ok: boolean; error?: { code: string } }>('publish', {
        room: `${o.room}.probe`,
        data: { probe: true },
        ...(task.ephemeral ? { ephemeral: true } : {}),
      });
      if (!ack.ok) return { samples, lost: {}, refused: ack.error?.code ?? 'refused' };
    }
    const intervalMs = 1000 / task.ratePerSecond;
    const started = performance.now();
    for (let seq = 0; seq < total; seq++) {
      const due = started + seq * intervalMs;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      for (const o of origins) {
        o.sentAt[seq] = performance.now();
        o.sender.send('publish', {
          room: o.room,
          data: { s: seq },
          ...(task.ephemeral ? { ephemeral: true } : {}),
        });
      }
    }
    // Wait for stragglers: every receiver complete, or a few seconds after the last publish.
    const deadline = performance.now() + 5_000;
    const receivers = task.origins.flatMap((o) => o.receivers.map((r) => r.path));
    while (performance.now() < deadline && receivers.some((p) => got[p]! < total)) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const lost: Record<string, number> = {};
    for (const p of receivers) lost[p] = Math.max(0, total - got[p]!);
    return { samples, lost };
  } finally {
    for (const s of sockets) s.close();
  }
}
