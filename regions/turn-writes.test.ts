import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { redisForFile } from '../tests/support/redis-for-file';
import { holdRedisWritesThisTurn, holdWritesThisTurn } from './turn-writes';

/** A stream that records each write it makes (one entry per write: the chunks it carried). */
function recordingStream(): { stream: Writable; writes: string[][] } {
  const writes: string[][] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writes.push([chunk.toString()]);
      done();
    },
    writev(chunks, done) {
      writes.push(chunks.map(({ chunk }) => (chunk as Buffer).toString()));
      done();
    },
  });
  return { stream, writes };
}

const nextIo = () => new Promise((resolve) => setImmediate(resolve));

describe('holdWritesThisTurn', () => {
  it('writes what one turn wrote, promise continuations included, in one write, in order', async () => {
    const { stream, writes } = recordingStream();
    expect(holdWritesThisTurn(stream)).toBe(false);
    stream.write('a');
    expect(holdWritesThisTurn(stream)).toBe(true);
    stream.write('b');
    await Promise.resolve();
    stream.write('c');
    expect(writes).toEqual([]);
    await nextIo();
    expect(writes).toEqual([['a', 'b', 'c']]);
  });

  it('lets the writes go before any I/O or timer callback, and holds again in the next turn', async () => {
    const { stream, writes } = recordingStream();
    holdWritesThisTurn(stream);
    stream.write('first');
    const seenByIo = new Promise<string[][]>((resolve) => setImmediate(() => resolve([...writes])));
    const seenByTimer = new Promise<string[][]>((resolve) => setTimeout(() => resolve([...writes]), 0));
    expect(await seenByIo).toEqual([['first']]);
    expect(await seenByTimer).toEqual([['first']]);

    holdWritesThisTurn(stream);
    stream.write('second');
    stream.write('third');
    await nextIo();
    expect(writes).toEqual([['first'], ['second', 'third']]);
  });

  it('lets streams go in the order they were first held, and tells their first holder once', async () => {
    const order: string[] = [];
    const told: string[] = [];
    const streams = ['x', 'y', 'z'].map((name) => ({
      cork: () => undefined,
      uncork: () => void order.push(name),
      writesReleased: () => void told.push(name),
    }));
    const [x, y, z] = streams as [
      (typeof streams)[number],
      (typeof streams)[number],
      (typeof streams)[number],
    ];
    holdWritesThisTurn(y, y);
    holdWritesThisTurn(x, x);
    holdWritesThisTurn(y, z);
    holdWritesThisTurn(z);
    await nextIo();
    expect(order).toEqual(['y', 'x', 'z']);
    expect(told).toEqual(['y', 'x']);
  });

  describe('on a Redis connection', () => {
    const redis = redisForFile();

    it('sends the commands of one turn in one write, each answered in order', async () => {
      const client = await redis.connect();
      const tcp = client.stream as unknown as {
        _write(...a: unknown[]): void;
        _writev(...a: unknown[]): void;
      };
      let writes = 0;
      for (const method of ['_write', '_writev'] as const) {
        const write = tcp[method].bind(tcp);
        tcp[method] = (...args) => {
          writes++;
          write(...args);
        };
      }
      const replies = [];
      for (let i = 0; i < 20; i++) {
        holdRedisWritesThisTurn(client);
        replies.push(client.incr('turn-writes:n'));
      }
      holdRedisWritesThisTurn(client);
      replies.push(client.publish('turn-writes:channel', 'x'));
      expect(await Promise.all(replies)).toEqual([...Array(20).keys()].map((i) => i + 1).concat(0));
      expect(writes).toBe(1);

      // Commands without the hold are written one at a time, as ioredis writes them.
      await Promise.all([client.get('turn-writes:n'), client.get('turn-writes:n')]);
      expect(writes).toBe(3);
    });

    it('leaves a connection that is not ready to ioredis: its commands queue and go once it is', async () => {
      const client = new Redis(redis.server.url, { lazyConnect: true });
      try {
        holdRedisWritesThisTurn(client);
        const reply = client.incr('turn-writes:offline');
        holdRedisWritesThisTurn(client);
        expect(await Promise.all([reply, client.incr('turn-writes:offline')])).toEqual([1, 2]);
      } finally {
        client.disconnect();
      }
    });
  });
});
