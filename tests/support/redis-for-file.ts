import { Redis, type RedisOptions } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { startRedis, type LocalRedis } from '../../harness/processes/redis';

/** A real `redis-server` for the tests of one file, and clients of it. */
export interface RedisForFile {
  /** The server: started before the file's first test, stopped after its last. */
  readonly server: LocalRedis;
  /** A plain client of the server. */
  readonly client: Redis;
  /** Another client with `options`, ready when it resolves; closed after the file's last test. */
  connect(options?: RedisOptions): Promise<Redis>;
}

/** Starts a real Redis for this test file (vitest `beforeAll` / `afterAll`); use it inside tests. */
export function redisForFile(): RedisForFile {
  let server: LocalRedis | undefined;
  const clients: Redis[] = [];
  beforeAll(async () => {
    server = await startRedis();
    clients.push(new Redis(server.url));
  });
  afterAll(async () => {
    for (const client of clients.splice(0)) client.disconnect();
    await server?.stop();
  });
  const started = (): LocalRedis => {
    if (!server) throw new Error('the Redis of this file is not started yet (use it inside a test)');
    return server;
  };
  return {
    get server() {
      return started();
    },
    get client() {
      started();
      return clients[0]!;
    },
    async connect(options = {}) {
      const client = new Redis(started().url, options);
      clients.push(client);
      if (client.status !== 'ready')
        await new Promise<void>((resolve) => client.once('ready', () => resolve()));
      return client;
    },
  };
}
