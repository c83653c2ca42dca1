/**
 * The benchmark's load process: the client side of every scenario, in a process of its own so that
 * clients never share an event loop with the platform's processes or the WAN relays. It takes tasks
 * from the bench over IPC (see protocol.ts) and answers each with its measurements.
 */
import { runLatency } from './latency-task';
import { runFootprint, runPresenceJoin } from './steady-tasks';
import { runHostile, runSaturation } from './stress-tasks';
import type {
  FanoutResult,
  FanoutTask,
  HandshakeTask,
  LoadInit,
  LoadRequest,
  LoadTask,
  OpenResult,
  OpenTask,
} from './protocol';
import { signBenchToken } from './token';
import { WireSocket, isMessageFrame } from './wire';
import { setTimeout as sleep } from 'node:timers/promises';

interface Group {
  sockets: WireSocket[];
  /** `message` frames received by the group so far. */
  messages: number;
}

const groups = new Map<string, Group>();
let secret: Uint8Array | undefined;
const tokens = new Map<string, string>();

async function token(user: string): Promise<string> {
  let t = tokens.get(user);
  if (!t) {
    t = await signBenchToken(secret!, user);
    tokens.set(user, t);
  }
  return t;
}

async function open(task: OpenTask): Promise<OpenResult> {
  const group = groups.get(task.group) ?? { sockets: [], messages: 0 };
  groups.set(task.group, group);
  const started = performance.now();
  const base = group.sockets.length;
  let next = 0;
  const worker = async () => {
    while (next < task.count) {
      const i = next++;
      const socket = await WireSocket.open(
        task.url,
        await token(task.users === 'one' ? `${task.group}` : `${task.group}-${base + i}`),
        { onFrame: (frame) => void (isMessageFrame(frame) && group.messages++) },
      );
      if (task.room) await socket.join(task.room);
      group.sockets.push(socket);
    }
  };
  await Promise.all(Array.from({ length: Math.min(task.concurrency, task.count) }, worker));
  return { open: group.sockets.length, ms: performance.now() - started };
}

async function fanout(task: FanoutTask): Promise<FanoutResult> {
  const group = groups.get(task.group);
  if (!group) throw new Error(`no group ${task.group}`);
  const publisher = await WireSocket.open(task.url, await token('fanout-publisher'));
  const data = { text: 'x'.repeat(64) };
  let publishes = 0;
  let running = true;
  const lane = async () => {
    while (running) {
      const ack = await publisher.request<{ ok: boolean }>('publish', { room: task.room, data });
      if (ack.ok) publishes++;
    }
  };
  const lanes = Array.from({ length: task.window }, lane);
  await sleep(task.warmupMs);
  const from = { messages: group.messages, publishes, at: performance.now() };
  await sleep(task.durationMs);
  const to = { messages: group.messages, publishes, at: performance.now() };
  running = false;
  await Promise.all(lanes);
  publisher.close();
  // Let the node finish what it queued, so the next measurement starts from quiet.
  let last = -1;
  const quietBy = performance.now() + 15_000;
  while (group.messages !== last && performance.now() < quietBy) {
    last = group.messages;
    await sleep(300);
  }
  return {
    deliveries: to.messages - from.messages,
    publishes: to.publishes - from.publishes,
    seconds: (to.at - from.at) / 1000,
    tail: group.messages - to.messages,
  };
}

async function handshakes(task: HandshakeTask): Promise<number[]> {
  const t = await token('handshake');
  const times: number[] = [];
  for (let i = 0; i < task.warmup + task.count; i++) {
    const socket = await WireSocket.open(task.url, t, task.query ? { query: task.query } : {});
    if (i >= task.warmup) times.push(socket.handshakeMs);
    socket.close();
  }
  return times;
}

function close(name: string): { closed: number } {
  const group = groups.get(name);
  groups.delete(name);
  for (const s of group?.sockets ?? []) s.close();
  return { closed: group?.sockets.length ?? 0 };
}

function work(task: LoadTask): Promise<unknown> {
  switch (task.kind) {
    case 'latency':
      return runLatency(task, token);
    case 'open':
      return open(task);
    case 'fanout':
      return fanout(task);
    case 'handshake':
      return handshakes(task);
    case 'saturation':
      return runSaturation(task, token);
    case 'hostile':
      return runHostile(task, token);
    case 'footprint':
      return runFootprint(task, token);
    case 'presence-join':
      return runPresenceJoin(task, token);
    case 'close':
      return Promise.resolve(close(task.group));
  }
}

process.on('message', (message: LoadRequest | LoadInit) => {
  if ('jwtSecret' in message) {
    secret = new TextEncoder().encode(message.jwtSecret);
    return;
  }
  const { id, task } = message;
  work(task).then(
    (result) => process.send!({ id, result }),
    (err: Error) => process.send!({ id, error: err.message }),
  );
});
process.on('disconnect', () => process.exit(0));
