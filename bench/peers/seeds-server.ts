/**
 * `seeds`: a plain Socket.IO server with `@socket.io/redis-adapter` over ioredis (Redis pub/sub
 * between nodes), as https://socket.io/docs/v4/redis-adapter/ sets it up. REDIS_URL names the one
 * Redis every node of every region shares.
 */
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { startPeerServer } from './plain-server';

const pub = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const sub = pub.duplicate();
const connected = (r: Redis) =>
  r.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => r.once('ready', () => resolve()));

await startPeerServer({
  io: { adapter: createAdapter(pub, sub) },
  ready: Promise.all([connected(pub), connected(sub)]).then(() => undefined),
});
