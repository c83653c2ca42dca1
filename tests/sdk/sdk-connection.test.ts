import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegionBalancer } from '../../harness/processes/haproxy';
import type { SessionInfo } from '../../shared';
import { RealtimeClient, type RealtimeError } from '../../shared/sdk';
import { eventually } from '../support/clients';
import { useBalancedRegion } from '../support/region-cluster';
import { tokenFor } from '../support/tokens';

const region = useBalancedRegion(3_000);
let balancer: RegionBalancer;
beforeAll(() => void (balancer = region.balancer));
const clients: RealtimeClient[] = [];
afterAll(() => {
  for (const c of clients) c.close();
});

function client(token: ConstructorParameters<typeof RealtimeClient>[0]['token']): RealtimeClient {
  const c = new RealtimeClient({ url: balancer.url, token, ackTimeoutMs: 2_000 });
  clients.push(c);
  return c;
}

describe('the SDK connection', () => {
  it('reports a failing token source and connects once it gives a token', async () => {
    let calls = 0;
    const errors: RealtimeError[] = [];
    const sessions: SessionInfo[] = [];
    const c = client(async () => {
      if (++calls === 1) throw new Error('token service down');
      return tokenFor('tess');
    });
    c.on('error', (e) => errors.push(e));
    c.on('session', (s) => sessions.push(s));
    await eventually(() => sessions.length === 1, 'a session after the token source recovered');
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(errors[0]).toMatchObject({ code: 'unavailable', message: 'no token: token service down' });
  });

  it('follows drain: reconnects to another node and keeps its rooms without gaps', async () => {
    const sessions: SessionInfo[] = [];
    const listener = client(() => tokenFor('lena'));
    listener.on('session', (s) => sessions.push(s));
    const received: unknown[] = [];
    listener.on('message', (m) => received.push(m.data));
    await listener.join('drain:room');
    await eventually(() => sessions.length === 1, 'the first session');
    const first = sessions[0]!.node;

    const publisher = client(() => tokenFor('paul'));
    await publisher.publish('drain:room', 'before');
    await eventually(() => received.length === 1, 'the message before the drain');

    region.nodes.find((n) => n.id === first)!.proc.child.kill('SIGTERM');
    await eventually(() => sessions.length === 2, 'a session on another node', 15_000);
    expect(sessions[1]!.node).not.toBe(first);
    await publisher.publish('drain:room', 'after');
    await eventually(() => received.includes('after'), 'the message after the drain', 15_000);
    expect(received).toEqual(['before', 'after']);
  });
});
