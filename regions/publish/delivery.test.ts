import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import { Server, type ServerOptions } from 'socket.io';
import { io as connect } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { EncodedEnvelope, Envelope } from '../../shared';
import { RegionMetrics } from '../metrics';
import { envelopeFor } from './publish-log-conformance';
import { RoomDelivery, type RegionIo } from './delivery';
import { preEncodedParser } from '../socket/transport';
import { redisForFile } from '../../tests/support/redis-for-file';

const redis = redisForFile();

const stops: (() => void)[] = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));

/** A real Socket.IO server on a free port with one connected client in `room`. */
async function serverWithMember(room: string, options: Partial<ServerOptions> = {}) {
  const httpServer = createServer();
  const io = new Server(httpServer, { parser: preEncodedParser, ...options }) as unknown as RegionIo;
  io.on('connection', (socket) => void socket.join(room));
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const { port } = httpServer.address() as AddressInfo;
  const client = connect(`http://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true });
  stops.push(() => {
    client.close();
    void io.close();
  });
  const received: Envelope[] = [];
  client.on('message', (envelope: Envelope) => received.push(envelope));
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  while (io.of('/').adapter.rooms.get(room)?.size !== 1) await new Promise((r) => setTimeout(r, 5));
  return { io, received };
}

describe('RoomDelivery', () => {
  it('hands deliveries handed in together to its observers once, in order, before what awaits them, and emits them in that order', async () => {
    const { io, received } = await serverWithMember('r');
    const delivery = new RoomDelivery(io, new RegionMetrics({ region: 'eu-west', node: 'n1' }));
    const batches: string[][] = [];
    delivery.observe((batch: readonly EncodedEnvelope[]) => batches.push(batch.map((d) => d.envelope.id)));
    const envelopes = [1, 2, 3].map((n) => envelopeFor({ room: 'r', data: n }));
    for (const envelope of envelopes) delivery.deliver(envelope, 'local');
    // Nothing is observed while the caller runs; then the three together, before the caller's next
    // step (the bus acknowledges a batch only after its emit).
    expect(batches).toEqual([]);
    await Promise.resolve();
    expect(batches).toEqual([envelopes.map((e) => e.id)]);
    const later = envelopeFor({ room: 'r', data: 4 });
    delivery.deliver(later, 'bus');
    while (received.length < 4) await new Promise((r) => setTimeout(r, 5));
    expect(batches).toEqual([envelopes.map((e) => e.id), [later.id]]);
    expect(received.map((e) => e.data)).toEqual([1, 2, 3, 4]);
  });

  it('sends a batch to the members on the other nodes too, in order, through the Redis adapter', async () => {
    const adapter = async () => {
      const [pub, sub] = [await redis.connect(), await redis.connect()];
      return createAdapter(pub, sub, { key: 'delivery-test' });
    };
    const here = await serverWithMember('elsewhere', { adapter: await adapter() });
    const there = await serverWithMember('r', { adapter: await adapter() });
    // Both adapters subscribed (each to the request channel, after its pattern over the rooms).
    const subscribers = async () =>
      Number(((await redis.client.pubsub('NUMSUB', 'delivery-test-request#/#')) as unknown[])[1]);
    while ((await subscribers()) < 2) await new Promise((r) => setTimeout(r, 5));
    const delivery = new RoomDelivery(here.io, new RegionMetrics({ region: 'eu-west', node: 'n1' }));
    const envelopes = [1, 2, 3].map((n) => envelopeFor({ room: 'r', data: n }));
    for (const envelope of envelopes) delivery.deliver(envelope, 'local');
    while (there.received.length < 3) await new Promise((r) => setTimeout(r, 5));
    expect(there.received.map((e) => e.data)).toEqual([1, 2, 3]);
  });
});
