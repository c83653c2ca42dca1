import { describe, expect, it } from 'vitest';
import { parseLsn, replicaLagBytes } from './read-routing';

describe('WAL positions', () => {
  it('parses X/Y as a byte offset', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('0/1B81000')).toBe(0x1b81000n);
    expect(parseLsn('1/0')).toBe(1n << 32n);
  });

  it('rejects what is not a WAL position', () => {
    expect(() => parseLsn('12345')).toThrow(/WAL position/);
  });

  it('measures replica lag as primary position minus replay position, never negative', () => {
    expect(replicaLagBytes('0/3000060', '0/3000000')).toBe(0x60n);
    expect(replicaLagBytes('1/10', '0/FFFFFFF0')).toBe(0x20n);
    expect(replicaLagBytes('0/10', '0/20')).toBe(0n);
  });
});
