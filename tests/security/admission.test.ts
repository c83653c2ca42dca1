import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { HandshakeAdmission } from '../../regions/socket/admission';

const request = (peer: string, headers: Record<string, string> = {}) =>
  ({ socket: { remoteAddress: peer }, headers }) as unknown as IncomingMessage;

const admission = (trustedProxies: string[]) =>
  new HandshakeAdmission({
    edgeSecrets: ['edge-secret-0123456789'],
    allowedOrigins: [],
    handshakeRatePerIp: 1,
    trustedProxies,
  });

describe('the client IP of a handshake', () => {
  it('ignores x-forwarded-for from a peer that is not a trusted proxy', () => {
    expect(admission([]).clientIp(request('203.0.113.5', { 'x-forwarded-for': '10.9.9.9' }))).toBe(
      '203.0.113.5',
    );
  });

  it('takes the rightmost untrusted entry behind trusted proxies (entries further left may be forged)', () => {
    const a = admission(['10.0.0.0/8', '::1/128']);
    const forwarded = { 'x-forwarded-for': '1.2.3.4, 198.51.100.20, 10.1.1.1' };
    expect(a.clientIp(request('::ffff:10.0.0.2', forwarded))).toBe('198.51.100.20');
    expect(a.clientIp(request('::1', { 'x-forwarded-for': '2001:db8::1' }))).toBe('2001:db8::1');
  });

  it('refuses a wrong or missing edge secret as forbidden', () => {
    const a = admission([]);
    expect(a.judge(request('192.0.2.1', { 'x-edge-secret': 'edge-secret-0123456788' }))).toBe('forbidden');
    expect(a.judge(request('192.0.2.1'))).toBe('forbidden');
    expect(a.judge(request('192.0.2.1', { 'x-edge-secret': 'edge-secret-0123456789' }))).toBeUndefined();
  });
});
