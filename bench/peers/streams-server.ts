/**
 * `streams`: a plain Socket.IO server with `@socket.io/redis-streams-adapter` over ioredis and
 * connection state recovery, which is what a Socket.IO user picks for delivery that survives a short
 * disconnection (https://socket.io/docs/v4/redis-streams-adapter/,
 * https://socket.io/docs/v4/connection-state-recovery). REDIS_URL names the one Redis every node of
 * every region shares.
 */
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { Redis } from 'ioredis';
import { startPeerServer } from './plain-server';

const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const ready =
  redis.status === 'ready'
    ? Promise.resolve()
    : new Promise<void>((resolve) => redis.once('ready', () => resolve()));

await startPeerServer({
  io: {
    adapter: createAdapter(redis),
    connectionStateRecovery: { maxDisconnectionDuration: 2 * 60 * 1000, skipMiddlewares: true },
  },
  ready,
});
