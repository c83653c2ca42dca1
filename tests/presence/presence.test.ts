import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PresenceEvent, PresenceList } from '../../shared';
import { member, startThreeRegions, type RegionId, type ThreeRegions } from '../bus/three-regions';
import { closeAllClients, connectClient, eventually, sleep, type TestClient } from '../support/clients';
import { SignJWT } from 'jose';
import { TEST_JWT_SECRET, tokenFor } from '../support/tokens';

const GRACE_MS = 1_500;
const NODE_LEASE_MS = 3_000;
const CAP = 5;

let cluster: ThreeRegions;

beforeAll(async () => {
  cluster = await startThreeRegions({
    PRESENCE_LEAVE_GRACE_MS: String(GRACE_MS),
    PRESENCE_NODE_LEASE_MS: String(NODE_LEASE_MS),
    PRESENCE_MEMBERS_CAP: String(CAP),
  });
});
afterAll(() => cluster?.stop());
afterEach(() => closeAllClients());

async function presence(client: TestClient, room: string): Promise<PresenceList> {
  const ack = await client.emitWithAck('presence', { room });
  if (!ack.ok) throw new Error(ack.error.message);
  return { members: ack.members, count: ack.count };
}

/** A socket of `user` on node `index` of `region`, joined to `room`. */
const socketOf = (region: RegionId, index: number, user: string, room: string) =>
  member(cluster, region, index, user, room);

function recordPresence(client: TestClient): PresenceEvent[] {
  const events: PresenceEvent[] = [];
  client.on('presence', (event) => events.push(event));
  return events;
}

describe('presence across three regions', () => {
  it('lists one member per user and region however many sockets, an exact count and a capped list', async () => {
    const room = 'pr:many';
    const observer = await socketOf('ap-southeast', 0, 'observer', room);
    const events = recordPresence(observer);
    // Eight users in eu-west with two sockets each on both nodes, one of them also in us-east.
    for (let i = 0; i < 8; i++) {
      await socketOf('eu-west', 0, `u${i}`, room);
      await socketOf('eu-west', 1, `u${i}`, room);
    }
    await socketOf('us-east', 1, 'u0', room);
    await socketOf('us-east', 0, 'u0', room);
    const expected = 1 + 8 + 1; // observer (ap-southeast), u0..u7 (eu-west), u0 (us-east)

    for (const region of ['us-east', 'eu-west', 'ap-southeast'] as const) {
      const asker = await connectClient(cluster.regions[region].nodes[1]!.url, await tokenFor('asker'));
      await eventually(
        async () => (await presence(asker, room)).count === expected,
        `the count in ${region}`,
        15_000,
      );
      const { members } = await presence(asker, room);
      expect(members).toHaveLength(CAP);
      // This region's members come first; no (user, region) twice.
      expect(new Set(members.map((m) => `${m.user}@${m.region}`)).size).toBe(CAP);
      expect(members[0]!.region).toBe(region);
    }
    const overHttp = await fetch(`${cluster.regions['us-east'].nodes[0]!.url}/v1/rooms/${room}/presence`, {
      headers: { authorization: `Bearer ${await tokenFor('asker')}` },
    });
    expect(((await overHttp.json()) as PresenceList).count).toBe(expected);

    // One join per (user, region), whatever the sockets.
    await eventually(() => events.filter((e) => e.state === 'join').length === 9, 'nine join events');
    await sleep(500);
    const joins = events.filter((e) => e.state === 'join').map((e) => `${e.user}@${e.region}`);
    expect(joins.sort()).toEqual([...[...Array(8).keys()].map((i) => `u${i}@eu-west`), 'u0@us-east'].sort());
  });

  it('sends nothing when a member reconnects within the leave grace, and one leave after it', async () => {
    const room = 'pr:grace';
    const observer = await socketOf('us-east', 0, 'watcher', room);
    const events = recordPresence(observer);
    const first = await socketOf('eu-west', 0, 'flaky', room);
    await eventually(() => events.length === 1, 'the join of flaky');

    // The connection drops and comes back on the other node before the grace runs out.
    first.disconnect();
    await sleep(300);
    const again = await socketOf('eu-west', 1, 'flaky', room);
    await sleep(GRACE_MS + 1_500);
    expect(events.map((e) => `${e.user}:${e.state}`)).toEqual(['flaky:join']);
    expect((await presence(observer, room)).members.map((m) => m.user)).toContain('flaky');

    // A second socket leaving does not make a leave while one stays.
    const extra = await socketOf('eu-west', 0, 'flaky', room);
    extra.disconnect();
    await sleep(GRACE_MS + 1_000);
    expect(events).toHaveLength(1);

    const gone = Date.now();
    again.disconnect();
    await eventually(() => events.length === 2, 'the leave of flaky', 15_000);
    expect(Date.now() - gone).toBeGreaterThanOrEqual(GRACE_MS - 100);
    expect(events[1]).toEqual({ room, user: 'flaky', region: 'eu-west', state: 'leave' });
    await eventually(
      async () => !(await presence(observer, room)).members.some((m) => m.user === 'flaky'),
      'flaky unlisted in us-east',
    );
  });

  it("shows the token's info in listings and join events, in every region", async () => {
    const room = 'pr:info';
    const observer = await socketOf('ap-southeast', 1, 'looker', room);
    const events = recordPresence(observer);
    const info = { name: 'Ada Lovelace', avatar: 'https://example.com/ada.png' };
    const token = await new SignJWT({ rooms: ['*'], info })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('ada')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    const ada = await connectClient(cluster.regions['eu-west'].nodes[0]!.url, token);
    expect((await ada.emitWithAck('join', { room })).ok).toBe(true);
    await eventually(() => events.length === 1, 'the join of ada');
    expect(events[0]).toEqual({ room, user: 'ada', region: 'eu-west', state: 'join', info });
    await eventually(
      async () => (await presence(observer, room)).members.some((m) => m.user === 'ada'),
      'ada listed in ap-southeast',
    );
    const listed = (await presence(observer, room)).members.find((m) => m.user === 'ada');
    expect(listed).toEqual({ user: 'ada', region: 'eu-west', info });
    expect((await presence(ada, room)).members.find((m) => m.user === 'looker')).toEqual({
      user: 'looker',
      region: 'ap-southeast',
    });
  });

  it("expires a crashed node's members, in every region", async () => {
    const room = 'pr:crash';
    const observer = await socketOf('us-east', 0, 'survivor', room);
    const events = recordPresence(observer);
    await socketOf('eu-west', 1, 'doomed', room);
    await socketOf('eu-west', 0, 'stays', room);
    await eventually(() => events.length === 2, 'both joins');
    expect((await presence(observer, room)).count).toBe(3);

    const crashed = Date.now();
    await cluster.regions['eu-west'].nodes[1]!.kill();
    await eventually(
      () => events.some((e) => e.user === 'doomed' && e.state === 'leave'),
      'doomed leaves',
      30_000,
    );
    const tookMs = Date.now() - crashed;
    await eventually(async () => (await presence(observer, room)).count === 2, 'the count without doomed');
    expect(events.filter((e) => e.state === 'leave').map((e) => e.user)).toEqual(['doomed']);
    console.info(
      `a crashed node's member left after ${tookMs} ms (lease ${NODE_LEASE_MS}, grace ${GRACE_MS})`,
    );
  });
});
