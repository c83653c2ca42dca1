import fc from 'fast-check';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../shared';
import { closeAllClients, connectClient, eventually } from '../support/clients';
import { useTestRegion } from '../support/region-cluster';
import { tokenFor } from '../support/tokens';
import { connectRaw, type RawClient } from './raw-client';

const region = useTestRegion({
  region: 'eu-west',
  nodes: 1,
  // A full GC on SIGUSR2 (the benchmark's preload), so the heap is compared settled, not mid-cycle.
  nodeArgs: ['--expose-gc', '--import', join(import.meta.dirname, '..', '..', 'bench', 'gc-on-signal.ts')],
  env: {
    HANDSHAKE_RATE_PER_IP: '100000',
    PUBLISH_RATE_PER_CONNECTION: '1000',
    PUBLISH_RATE_PER_USER: '5000',
    REQUEST_RATE_PER_CONNECTION: '1000',
  },
});
let url: string;
const raws: RawClient[] = [];
beforeAll(() => void (url = region.nodes[0]!.url));
afterEach(() => {
  closeAllClients();
  for (const raw of raws.splice(0)) raw.close();
});

const EVENTS = ['join', 'leave', 'publish', 'history', 'presence', 'auth'];
const roomish = fc.oneof(fc.constantFrom('lobby', 'a:b', '', 'x'.repeat(129), '*', '../etc'), fc.string());
const jsonish = fc.oneof(
  fc.jsonValue({ maxDepth: 40 }).map((v) => JSON.stringify(v)),
  fc.constantFrom(
    '1e400',
    '-1e400',
    '"\\u0000"',
    '"\\ud800"',
    '{"__proto__":{"a":1}}',
    'null',
    '[[[[[[[[[[[[]]]]]]]]]]]]',
  ),
  fc.nat({ max: 70_000 }).map((n) => JSON.stringify('x'.repeat(n))),
);
const payload = fc.oneof(
  fc
    .record({ room: roomish, data: jsonish, id: fc.option(fc.uuid(), { nil: undefined }) })
    .map(
      ({ room, data, id }) => `{"room":${JSON.stringify(room)},"data":${data}${id ? `,"id":"${id}"` : ''}}`,
    ),
  fc
    .record({ room: roomish, since: fc.option(fc.uuid({ version: 7 }), { nil: undefined }) })
    .map((v) => JSON.stringify(v)),
  fc.record({ token: fc.string() }).map((v) => JSON.stringify(v)),
  jsonish,
);
const emission = fc.record({
  event: fc.oneof(fc.constantFrom(...EVENTS), fc.string({ maxLength: 20 })),
  payload,
});
const garbage = fc.oneof(
  fc.string(),
  fc.constantFrom('2[', '42[]', '42["join"', '43[1]', '45-["x"]', '41', '9'),
);

/** Throws random events, payloads and raw packets at the node for about `ms`; every ack checked. */
async function fuzzFor(ms: number): Promise<{ acks: number; codes: Set<string> }> {
  const token = await tokenFor('fuzzer');
  let client = await connectRaw(url, token);
  raws.push(client);
  const codes = new Set<string>();
  let acks = 0;
  const deadline = Date.now() + ms;
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.oneof(
          emission.map((e) => ({ ...e, kind: 'emit' as const })),
          garbage.map((g) => ({ g, kind: 'raw' as const })),
        ),
        { maxLength: 8 },
      ),
      async (steps) => {
        if (Date.now() > deadline) return;
        if (!client.isOpen()) {
          client = await connectRaw(url, token);
          raws.push(client);
        }
        for (const step of steps) {
          if (step.kind === 'raw') {
            client.sendPacket(step.g);
            // A Socket.IO DISCONNECT packet (type 1, e.g. "19") ends this session on the server,
            // which then answers nothing more on it: the fuzzer goes on with a new connection.
            if (step.g.startsWith('1')) {
              client.close();
              break;
            }
            continue;
          }
          if (!client.isOpen()) break;
          // Every emit must be acked; the deadline is generous because it checks that an ack comes,
          // not how fast (the machine may be busy with other test files).
          const ack = (await client.emitRaw(step.event, step.payload, 20_000).catch((err: Error) => {
            // A packet over the buffer limit or malformed closes the connection: no ack then.
            if (!client.isOpen()) return undefined;
            throw err;
          })) as { ok: boolean; error?: { code: string } } | undefined;
          if (ack === undefined) break;
          acks++;
          if (!ack.ok) {
            expect(ERROR_CODES).toContain(ack.error?.code);
            codes.add(ack.error!.code);
          } else expect(ack.ok).toBe(true);
        }
      },
    ),
    { numRuns: 10_000, interruptAfterTimeLimit: ms + 3_000, markInterruptAsFailure: false },
  );
  for (const raw of raws.splice(0)) raw.close();
  return { acks, codes };
}

/** The node's used heap after a full GC, from its own /metrics. */
async function settledHeapBytes(): Promise<number> {
  process.kill(region.nodes[0]!.pid, 'SIGUSR2');
  await sleep(500);
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('nodejs_heap_size_used_bytes'));
  return Number(line?.split(' ').at(-1));
}

describe('a node under random hostile input', () => {
  it('refuses a connect to another namespace, and goes on answering on its own', async () => {
    const raw = await connectRaw(url, await tokenFor('namespaces'));
    raws.push(raw);
    raw.sendPacket("0/mh'T,");
    expect(await raw.emitRaw('publish', '{"room":"lobby","data":1}', 20_000)).toMatchObject({ ok: true });
  });

  it(
    'answers every ack with ok or a contract code, never crashes, keeps serving, and gives its memory back',
    { timeout: 60_000 },
    async () => {
      await fuzzFor(3_000); // warm-up: every code path the fuzzer reaches is compiled once
      const before = await settledHeapBytes();
      const { acks, codes } = await fuzzFor(12_000);
      expect(acks).toBeGreaterThan(50);
      expect(codes.has('invalid')).toBe(true);

      expect(region.nodes[0]!.proc.child.exitCode).toBeNull();
      const sender = await connectClient(url, await tokenFor('after-sender'));
      const member = await connectClient(url, await tokenFor('after-member'));
      await member.emitWithAck('join', { room: 'after' });
      expect(
        await sender.emitWithAck('publish', { room: 'after', data: { still: 'serving' } }),
      ).toMatchObject({ ok: true });
      await eventually(() => member.received.length === 1, 'a message after the fuzzing');
      expect(region.nodes[0]!.proc.output()).not.toMatch(/unhandled|uncaught/i);

      // Memory back to its level: what the hostile sessions held is released once they are gone.
      closeAllClients();
      await eventually(async () => {
        const text = await (await fetch(`${url}/metrics`)).text();
        return /^rt_connections(?:\{[^}]*\})? 0$/m.test(text);
      }, 'every fuzzing connection to be closed');
      const after = await settledHeapBytes();
      expect(before).toBeGreaterThan(0);
      expect(after - before, `heap ${before} -> ${after} bytes`).toBeLessThan(8 * 1024 * 1024);
    },
  );
});
