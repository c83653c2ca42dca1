import { describe, expect, it } from 'vitest';
import { ProtocolError, type EncodedEnvelope, type Envelope, type Principal } from '../../shared';
import { createLogger } from '../log';
import { RegionMetrics } from '../metrics';
import type { PublishLog } from './log';
import { MemoryPublishLog } from './memory-log';
import { CONFORMANCE_RULES } from './publish-log-conformance';
import { Publisher } from './publisher';

function publisherWith(
  log: PublishLog = new MemoryPublishLog({ ...CONFORMANCE_RULES, publishRatePerUser: 2 }),
) {
  const delivered: { envelope: Envelope; json: string; except: string | undefined }[] = [];
  const publisher = new Publisher({
    region: 'eu-west',
    maxPayloadBytes: 100,
    log,
    delivery: {
      deliver: (d, _source, except) => {
        const { envelope, json } = d as EncodedEnvelope;
        delivered.push({ envelope, json, except });
      },
    },
    metrics: new RegionMetrics({ region: 'eu-west', node: 'test' }),
    logger: createLogger('silent', { region: 'eu-west', node: 'test' }),
  });
  return { publisher, delivered };
}

const alice: Principal = { user: 'alice', rooms: ['chat:*'] };

async function code(attempt: Promise<unknown>): Promise<string> {
  return attempt.then(
    () => 'ok',
    (err: unknown) => (err instanceof ProtocolError ? err.code : `thrown: ${String(err)}`),
  );
}

describe('Publisher', () => {
  it('delivers a fresh envelope once, encoded once, to everyone but the sender, and acks it', async () => {
    const { publisher, delivered } = publisherWith();
    const ack = await publisher.publish({
      principal: alice,
      room: 'chat:1',
      data: { text: 'hi' },
      transport: 'socket',
      exceptSocketId: 's1',
    });
    expect(delivered).toHaveLength(1);
    const [{ envelope, json, except }] = delivered as [(typeof delivered)[0]];
    expect(envelope).toEqual({
      id: ack.id,
      ts: ack.ts,
      room: 'chat:1',
      data: { text: 'hi' },
      user: 'alice',
      origin: 'eu-west',
    });
    expect(json).toBe(JSON.stringify(envelope));
    expect(except).toBe('s1');
    expect(
      await publisher.publish({
        principal: alice,
        room: 'chat:1',
        data: 'again',
        id: ack.id,
        transport: 'http',
      }),
    ).toEqual(ack);
    expect(delivered).toHaveLength(1);
  });

  it('refuses rooms outside the grant and data over the limit before the log is asked', async () => {
    const { publisher, delivered } = publisherWith();
    expect(
      await code(publisher.publish({ principal: alice, room: 'ops', data: 1, transport: 'socket' })),
    ).toBe('forbidden');
    expect(
      await code(
        publisher.publish({ principal: alice, room: 'chat:1', data: 'x'.repeat(100), transport: 'socket' }),
      ),
    ).toBe('too_large');
    expect(delivered).toEqual([]);
  });

  it('marks ephemeral envelopes, and lets the server API past the grant and the user rate', async () => {
    const { publisher, delivered } = publisherWith();
    await publisher.publish({
      principal: alice,
      room: 'chat:1',
      data: 't',
      ephemeral: true,
      transport: 'socket',
    });
    expect(delivered[0]!.envelope.ephemeral).toBe(true);
    const server: Principal = { user: 'server', rooms: [] };
    for (let i = 0; i < 4; i++) {
      await publisher.publish({ principal: server, room: 'ops', data: i, server: true, transport: 'server' });
    }
    expect(delivered).toHaveLength(5);
  });

  it('answers `unavailable` when the log fails unexpectedly, and passes its refusals on', async () => {
    const failing: PublishLog = { accept: () => Promise.reject(new Error('boom')) };
    expect(
      await code(
        publisherWith(failing).publisher.publish({
          principal: alice,
          room: 'chat:1',
          data: 1,
          transport: 'socket',
        }),
      ),
    ).toBe('unavailable');
    const refusing: PublishLog = { accept: () => Promise.reject(new ProtocolError('rate_limited', 'slow')) };
    expect(
      await code(
        publisherWith(refusing).publisher.publish({
          principal: alice,
          room: 'chat:1',
          data: 1,
          transport: 'socket',
        }),
      ),
    ).toBe('rate_limited');
  });
});
