import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ImportGraph } from '../support/import-graph';

/**
 * The files one envelope passes through from the socket `publish` handler to a client in another
 * region, in the order it first enters them (docs/architecture.md, "The pipeline drawn by file"):
 * every project file whose code is handed the envelope, its JSON or its stream entry on the way, up
 * to the WebSocket frame written to the client. Not on it: code that sees only the envelope's id or
 * room (key names, the shard hash, the dedup marks), re-exporting index files, and the side branches
 * (the local emit in the origin region, the history writer, the recent-history buffer).
 */
const WALK = [
  'regions/socket/handlers.ts',
  'regions/publish/publisher.ts',
  'regions/publish/redis-log.ts',
  'regions/publish/log.ts',
  'shared/wire.ts',
  'regions/streams/worker.ts',
  'regions/outbox/outbox.ts',
  'regions/bus/inbound-shards.ts',
  'regions/bus/redis-bus.ts',
  'regions/publish/delivery.ts',
  'regions/redis/adapter-publish-guard.ts',
  'regions/socket/transport.ts',
] as const;

type WalkFile = (typeof WALK)[number];

/**
 * Who calls whom with the envelope (or its encoded entry) on that walk. Some calls go through an
 * interface or a callback (the publisher calls the publish log it was given; the worker calls the
 * stream and the policy it was built with; the Socket.IO Redis adapter calls the guarded publish of
 * its client and the node's packet encoder and transport),
 * so the caller need not import the callee, but a callee must never import its caller.
 */
const CALLS: [caller: WalkFile, callee: WalkFile][] = [
  ['regions/socket/handlers.ts', 'regions/publish/publisher.ts'],
  ['regions/publish/publisher.ts', 'regions/publish/redis-log.ts'],
  ['regions/publish/redis-log.ts', 'regions/publish/log.ts'],
  ['regions/publish/redis-log.ts', 'shared/wire.ts'],
  ['regions/streams/worker.ts', 'regions/outbox/outbox.ts'],
  ['regions/outbox/outbox.ts', 'shared/wire.ts'],
  ['regions/streams/worker.ts', 'regions/bus/inbound-shards.ts'],
  ['regions/bus/inbound-shards.ts', 'regions/bus/redis-bus.ts'],
  ['regions/bus/redis-bus.ts', 'shared/wire.ts'],
  ['regions/bus/inbound-shards.ts', 'regions/publish/delivery.ts'],
  ['regions/publish/delivery.ts', 'shared/wire.ts'],
  ['regions/publish/delivery.ts', 'regions/redis/adapter-publish-guard.ts'],
  ['regions/publish/delivery.ts', 'regions/socket/transport.ts'],
];

const graph = new ImportGraph(process.cwd());

describe('one envelope from the socket publish handler to a remote region client', () => {
  it('goes one way: no file on the walk imports, even through other files, one that calls it', () => {
    const backEdges = CALLS.map(([caller, callee]) => graph.chain(callee, caller))
      .filter((chain) => chain !== undefined)
      .map((chain) => chain.join(' -> '));
    expect(backEdges).toEqual([]);
  });

  it('passes no file that imports itself through others (no import cycle on the walk)', () => {
    const cycles = WALK.map((file) => graph.chain(file, file))
      .filter((chain) => chain !== undefined)
      .map((chain) => chain.join(' -> '));
    expect(cycles).toEqual([]);
  });

  it('is drawn in docs/architecture.md file by file, as the code has it', () => {
    const doc = readFileSync('docs/architecture.md', 'utf8');
    const section = /## The pipeline drawn by file\n([\s\S]*?)\n## /.exec(doc)?.[1] ?? '';
    const drawing = /```\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const named = [...drawing.matchAll(/(?:regions|shared)\/[\w/.-]+\.ts/g)].map((m) => m[0]);
    expect([...new Set(named)]).toEqual([...WALK]);
  });
});
