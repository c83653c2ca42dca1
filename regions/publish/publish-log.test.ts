import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../shared';
import { redisForFile } from '../../tests/support/redis-for-file';
import { keys } from '../keyspace';
import { createLogger } from '../log';
import { RegionMetrics } from '../metrics';
import { decodeEnvelope } from '../outbox';
import { MemoryPublishLog } from './memory-log';
import {
  CONFORMANCE_RULES,
  envelopeFor,
  idAt,
  publishLogConformance,
  type PublishLogFixture,
} from './publish-log-conformance';
import { RedisPublishLog } from './redis-log';
import type { PublishLogRules } from './log';

publishLogConformance('memory', async (rules) => {
  const log = new MemoryPublishLog(rules);
  return {
    log,
    markSeen: async (id) => log.markSeen(id, 60_000),
    appended: async () => log.outbox.map((e) => e.envelope),
    // One step: a crash during it leaves nothing.
    acceptInterrupted: async () => undefined,
  };
});

const redis = redisForFile();

/** A client set up like the node's regional command client, with a short command deadline. */
function client(commandTimeout = 3_000): Promise<Redis> {
  return redis.connect({ enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout });
}

const deps = (holdMaxBytes = 1024 * 1024) => ({
  log: createLogger('silent', { region: 'eu-west', node: 'test' }),
  metrics: new RegionMetrics({ region: 'eu-west', node: 'test' }),
  holdMaxBytes,
});

async function redisFixture(rules: PublishLogRules, c?: Redis, holdMaxBytes?: number) {
  const command = c ?? (await client());
  const log = new RedisPublishLog(command, rules, deps(holdMaxBytes));
  const fixture: PublishLogFixture & { log: RedisPublishLog } = {
    log,
    markSeen: async (id) => void (await command.set(keys.seen(id), '1', 'EX', 60)),
    appended: async () =>
      (await command.xrange(keys.outbox(), '-', '+')).map(([, fields]) => decodeEnvelope(fields)!),
    // One script: a crash during it leaves nothing.
    acceptInterrupted: async () => undefined,
  };
  return fixture;
}

publishLogConformance('redis', async (rules) => {
  const c = await client();
  await c.flushall();
  return redisFixture(rules, c);
});

describe('RedisPublishLog', () => {
  it('keeps a claim only until its id leaves the idempotency window', async () => {
    const c = await client();
    await c.flushall();
    const { log } = await redisFixture(CONFORMANCE_RULES, c);
    const young = envelopeFor();
    const old = envelopeFor({ id: idAt(Date.now() - 50_000) });
    await log.accept(young);
    await log.accept(old);
    const window = CONFORMANCE_RULES.idempotencyWindowMs;
    expect(await c.pttl(keys.ack(young.id))).toBeGreaterThan(window - 5_000);
    expect(await c.pttl(keys.ack(young.id))).toBeLessThanOrEqual(window + 1_000);
    expect(await c.pttl(keys.ack(old.id))).toBeLessThanOrEqual(window - 50_000 + 1_000);
  });

  it('costs one deadline when the regional Redis is frozen, holds what it accepted and appends it after', async () => {
    const c = await client(500);
    await c.flushall();
    const { log, appended } = await redisFixture({ ...CONFORMANCE_RULES, publishRatePerUser: 1 }, c);
    const envelopes = [envelopeFor(), envelopeFor(), envelopeFor()];
    process.kill(redis.server.pid, 'SIGSTOP');
    try {
      const started = Date.now();
      for (const envelope of envelopes) expect(await log.accept(envelope)).toMatchObject({ fresh: true });
      // One command deadline (500 ms) for the first publish, none for the ones queued behind it.
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(log.heldCount).toBe(3);
      // A retry while frozen is answered from memory.
      expect(await log.accept(envelopes[1]!)).toMatchObject({ fresh: false });
    } finally {
      process.kill(redis.server.pid, 'SIGCONT');
    }
    await log.flush();
    expect(log.heldCount).toBe(0);
    expect(await appended()).toEqual(envelopes);
  });

  it('holds at most its byte budget while Redis is unreachable, then refuses `unavailable`', async () => {
    const c = await client(300);
    await c.flushall();
    const one = envelopeFor({ data: 'x'.repeat(1_000) });
    const budget = 3 * JSON.stringify(one).length + 10;
    const { log, appended } = await redisFixture(CONFORMANCE_RULES, c, budget);
    const accepted = [];
    process.kill(redis.server.pid, 'SIGSTOP');
    let refused: unknown;
    try {
      for (let i = 0; i < 5 && !refused; i++) {
        const envelope = envelopeFor({ data: 'x'.repeat(1_000) });
        try {
          await log.accept(envelope);
          accepted.push(envelope);
        } catch (err) {
          refused = err;
        }
      }
      expect(log.heldBytes).toBeLessThanOrEqual(budget);
    } finally {
      process.kill(redis.server.pid, 'SIGCONT');
    }
    expect(accepted).toHaveLength(3);
    expect(refused).toBeInstanceOf(ProtocolError);
    expect((refused as ProtocolError).code).toBe('unavailable');
    await log.flush();
    expect(await appended()).toEqual(accepted);
  });
});
