import { describe, expect, it } from 'vitest';
import { newEnvelopeId, type Envelope } from '../envelope';
import { RecentIds } from './recent-ids';
import { RoomFeed } from './room-feed';

function envelope(n: number): Envelope {
  return { id: newEnvelopeId(), room: 'r', data: n, user: 'u', origin: 'us', ts: n };
}

describe('RoomFeed', () => {
  it('joins first without since, then rejoins from the last envelope received', () => {
    const feed = new RoomFeed('r', 100);
    expect(feed.beginJoin()).toBeUndefined();
    const [a, b] = [envelope(1), envelope(2)];
    feed.endJoin([]);
    feed.live(a);
    feed.live(b);
    expect(feed.beginJoin()).toBe(b.id);
  });

  it('rejoins a resync from its since when live envelopes after the gap came first', () => {
    const feed = new RoomFeed('r', 100);
    feed.beginJoin();
    feed.endJoin([]);
    const beforeGap = newEnvelopeId();
    const [gap, after] = [envelope(1), envelope(2)];
    feed.live(after);
    expect(feed.beginJoin(beforeGap)).toBe(beforeGap);
    const { missed, live } = feed.endJoin([gap, after]);
    expect([...missed, ...live]).toEqual([gap]);
    // A resync whose since is later than the last envelope received rejoins from that envelope.
    expect(feed.beginJoin(newEnvelopeId())).toBe(gap.id);
  });

  it('rejoins from a marker made at the first join when nothing was received', () => {
    const feed = new RoomFeed('r', 100);
    feed.beginJoin();
    feed.endJoin([]);
    const since = feed.beginJoin();
    expect(since).toBeDefined();
    expect(feed.beginJoin()).toBe(since);
  });

  it('hands over missed before live envelopes that arrived during the join, each id once', () => {
    const feed = new RoomFeed('r', 100);
    const [a, b, c, d] = [envelope(1), envelope(2), envelope(3), envelope(4)];
    feed.beginJoin();
    feed.endJoin([]);
    feed.live(a);
    feed.beginJoin();
    expect(feed.live(c)).toEqual([]); // held while joining
    expect(feed.live(d)).toEqual([]);
    const handed = feed.endJoin([a, b, c]);
    expect(handed.missed).toEqual([b, c]);
    expect(handed.live).toEqual([d]);
    expect(feed.lastId).toBe(d.id);
    expect(feed.live(d)).toEqual([]);
  });

  it('does not hand back the client’s own publishes', () => {
    const feed = new RoomFeed('r', 100);
    const own = envelope(1);
    feed.markOwn(own.id);
    expect(feed.live(own)).toEqual([]);
  });
});

describe('RecentIds', () => {
  it('forgets the oldest ids beyond its capacity', () => {
    const ids = new RecentIds(2);
    expect(ids.add('a')).toBe(true);
    expect(ids.add('a')).toBe(false);
    ids.add('b');
    ids.add('c');
    expect(ids.has('a')).toBe(false);
    expect(ids.has('c')).toBe(true);
    expect(ids.size).toBe(2);
  });
});
