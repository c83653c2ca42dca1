import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedis, type LocalRedis } from './redis';
import { oneWayDelayMs, startWanRelay, type WanRelay } from './wan-relay';

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

describe('WAN delays', () => {
  it('follow the great-circle distance between regions', () => {
    const usEast = { lat: 38.9, lon: -77.0 };
    const euWest = { lat: 53.3, lon: -6.3 };
    const apSoutheast = { lat: 1.35, lon: 103.8 };
    expect(oneWayDelayMs(usEast, euWest)).toBe(28);
    expect(oneWayDelayMs(euWest, apSoutheast)).toBeGreaterThan(oneWayDelayMs(usEast, euWest));
    expect(oneWayDelayMs(usEast, usEast)).toBe(0);
  });
});

describe('WAN relay', () => {
  it('carries a real Redis conversation, each way delayed, bytes in order', async () => {
    const redis: LocalRedis = await startRedis();
    cleanup.push(() => redis.stop());
    const relay: WanRelay = await startWanRelay({ port: redis.port }, 40);
    cleanup.push(() => relay.close());
    const client = new Redis(relay.port, '127.0.0.1');
    cleanup.push(async () => client.disconnect());
    await client.ping();
    const values = Array.from({ length: 200 }, (_, i) => `v${i}`);
    await Promise.all(values.map((v) => client.rpush('list', v)));
    expect(await client.lrange('list', 0, -1)).toEqual(values);
    // A round trip through the relay cannot be faster than twice the one-way delay.
    const started = performance.now();
    await client.ping();
    expect(performance.now() - started).toBeGreaterThanOrEqual(80);
  });

  it('passes a half-close on after the data before it', async () => {
    const echo = createServer((socket) => {
      const chunks: Buffer[] = [];
      socket.on('data', (c) => chunks.push(c));
      socket.on('end', () => socket.end(Buffer.concat(chunks)));
    });
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise((r) => echo.close(() => r())));
    const relay = await startWanRelay({ port: (echo.address() as { port: number }).port }, 10);
    cleanup.push(() => relay.close());
    const { connect } = await import('node:net');
    const socket = connect(relay.port, '127.0.0.1');
    const reply = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (c) => (text += c.toString()));
      socket.on('end', () => resolve(text));
    });
    socket.end('hello over the ocean');
    expect(await reply).toBe('hello over the ocean');
  });
});
