import { expect } from 'vitest';
import { connectClient, eventually } from './clients';
import { tokenFor } from './tokens';

/**
 * What a region of two nodes shows of presence in room `team:1` of region eu-west, whatever its Redis
 * (one server or a cluster): alice on `nodeA` sees bob on `nodeB` in the member list, and his join
 * and leave, each once. `grant` is the room pattern both tokens carry.
 */
export async function expectPresenceAcrossNodes(nodeA: string, nodeB: string, grant: string): Promise<void> {
  const alice = await connectClient(nodeA, await tokenFor('alice', [grant]));
  await alice.emitWithAck('join', { room: 'team:1' });
  const events: unknown[] = [];
  alice.on('presence', (e) => events.push(e));
  const bob = await connectClient(nodeB, await tokenFor('bob', [grant]));
  await bob.emitWithAck('join', { room: 'team:1' });
  await eventually(() => events.length === 1, 'presence join');
  expect(await alice.emitWithAck('presence', { room: 'team:1' })).toEqual({
    ok: true,
    members: [
      { user: 'alice', region: 'eu-west' },
      { user: 'bob', region: 'eu-west' },
    ],
    count: 2,
  });
  bob.close();
  await eventually(() => events.length === 2, 'presence leave');
  expect(events).toEqual([
    { room: 'team:1', user: 'bob', region: 'eu-west', state: 'join' },
    { room: 'team:1', user: 'bob', region: 'eu-west', state: 'leave' },
  ]);
}
