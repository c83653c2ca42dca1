import { describe, expect, it } from 'vitest';
import { compareEntryIds, groupStanding, shardOfRoom } from './bus';
import { fairShare } from './shard-assignment';

describe('shardOfRoom', () => {
  it('is stable and spreads rooms over every shard', () => {
    expect(shardOfRoom('chat:1', 8)).toBe(shardOfRoom('chat:1', 8));
    const used = new Set(Array.from({ length: 200 }, (_, i) => shardOfRoom(`room-${i}`, 8)));
    expect([...used].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('compareEntryIds', () => {
  it('orders stream ids numerically, not as text', () => {
    expect(compareEntryIds('9-0', '10-0')).toBeLessThan(0);
    expect(compareEntryIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareEntryIds('10-10', '10-10')).toBe(0);
  });
});

describe('groupStanding', () => {
  it('tells current, late and fallen-behind apart', () => {
    expect(groupStanding({ lastDeliveredId: '5-0', trimmedThroughId: '0-0', hasUndelivered: false })).toBe(
      'current',
    );
    expect(groupStanding({ lastDeliveredId: '5-0', trimmedThroughId: '4-0', hasUndelivered: true })).toBe(
      'late',
    );
    expect(groupStanding({ lastDeliveredId: '5-0', trimmedThroughId: '6-0', hasUndelivered: true })).toBe(
      'fallen-behind',
    );
  });
});

describe('fairShare', () => {
  it('splits shards over live nodes, rounding up, and counts no nodes as one', () => {
    expect(fairShare(8, 2)).toBe(4);
    expect(fairShare(8, 3)).toBe(3);
    expect(fairShare(8, 0)).toBe(8);
  });
});
