import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { keyFamilies, keyspaceTable, keys } from './keyspace';

const ARCHITECTURE = join(import.meta.dirname, '..', 'docs', 'architecture.md');

/** The cells of a Markdown table's body rows, trimmed (prettier may pad them). */
function tableRows(markdown: string): string[][] {
  return markdown
    .split('\n')
    .filter((line) => line.startsWith('|') && !/^\|\s*-/.test(line))
    .slice(1)
    .map((line) =>
      line
        .slice(1, -1)
        .split('|')
        .map((cell) => cell.trim()),
    );
}

describe('keyspace', () => {
  it('is the keyspace table of docs/architecture.md', () => {
    const doc = readFileSync(ARCHITECTURE, 'utf8');
    const section = doc.slice(
      doc.indexOf('## Keyspace'),
      doc.indexOf('\n## ', doc.indexOf('## Keyspace') + 1),
    );
    expect(tableRows(section)).toEqual(tableRows(keyspaceTable()));
  });

  it("builds names that match each family's pattern", () => {
    const samples: Record<string, string> = {
      ack: keys.ack('x'),
      seen: keys.seen('x'),
      rate: keys.rate('u', 1),
      outbox: keys.outbox(),
      idClaim: keys.idClaim('x'),
      groupAck: keys.groupAck(3, 'x'),
      groupOutbox: keys.groupOutbox(3),
      groupSeen: keys.groupSeen(3, 'x'),
      groupShardLease: keys.groupShardLease(3),
      userRate: keys.userRate('u', 1),
      userEphemeralRate: keys.userEphemeralRate('u', 1),
      recent: keys.recent('room'),
      groupRecent: keys.groupRecent(3, 'room'),
      groupRecentRooms: keys.groupRecentRooms(3),
      groupRecentBytes: keys.groupRecentBytes(3),
      inbound: keys.inbound(3),
      inboundTrimmed: keys.inboundTrimmed(3),
      shardLease: keys.shardLease(3),
      forwarderLease: keys.forwarderLease('eu-west'),
    };
    for (const [family, name] of Object.entries(samples)) {
      const pattern = keyFamilies[family as keyof typeof keyFamilies].pattern;
      const regex = new RegExp(`^${pattern.replace(/\{[^}]+\}/g, '[^:]+')}$`);
      expect(name).toMatch(regex);
    }
  });
});
