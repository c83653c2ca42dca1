import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { secretIsOneOf } from '../../shared';
import { parseCidr } from '../config';
import { TokenBucket } from '../limits';

/** Idle per-IP buckets are forgotten once the map holds this many. */
const MAX_TRACKED_IPS = 10_000;
/** A bucket untouched this long is full again, so forgetting it changes nothing. */
const IDLE_BUCKET_MS = 10_000;

/**
 * Judges an Engine.IO handshake (a request without `sid`) before any session exists: the edge
 * secret, the browser origin, and a rate per client IP. Returns the refusal's code or undefined.
 */
export class HandshakeAdmission {
  private readonly trusted = new BlockList();
  private readonly buckets = new Map<string, { bucket: TokenBucket; seen: number }>();

  constructor(
    private readonly options: {
      /** Accepted `x-edge-secret` values (current, and the previous one during a rotation); empty: none required. */
      edgeSecrets: readonly string[];
      /** Empty: any origin. */
      allowedOrigins: readonly string[];
      handshakeRatePerIp: number;
      trustedProxies: readonly string[];
    },
  ) {
    for (const cidr of options.trustedProxies) {
      const [address = '', bits] = cidr.split('/');
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      if (parseCidr(cidr))
        this.trusted.addSubnet(address, Number(bits ?? (family === 'ipv4' ? 32 : 128)), family);
    }
  }

  /** The refusal for `req` (`forbidden`, `rate_limited`), or undefined to admit it. */
  judge(req: IncomingMessage): 'forbidden' | 'rate_limited' | undefined {
    const { edgeSecrets, allowedOrigins } = this.options;
    if (edgeSecrets.length > 0 && !secretIsOneOf(header(req, 'x-edge-secret'), edgeSecrets))
      return 'forbidden';
    const origin = header(req, 'origin');
    if (origin !== undefined && allowedOrigins.length > 0 && !allowedOrigins.includes(origin))
      return 'forbidden';
    return this.takeHandshake(this.clientIp(req)) ? undefined : 'rate_limited';
  }

  /**
   * The client's address: the peer's, unless the peer is a trusted proxy; then the rightmost
   * `x-forwarded-for` entry that is not a trusted proxy itself (entries left of it could be forged).
   */
  clientIp(req: IncomingMessage): string {
    const peer = normalize(req.socket.remoteAddress ?? '');
    if (!this.isTrusted(peer)) return peer;
    const forwarded = (header(req, 'x-forwarded-for') ?? '')
      .split(',')
      .map((entry) => normalize(entry.trim()))
      .filter((entry) => isIP(entry) !== 0);
    for (let i = forwarded.length - 1; i >= 0; i--) {
      if (!this.isTrusted(forwarded[i]!)) return forwarded[i]!;
    }
    return forwarded[0] ?? peer;
  }

  private isTrusted(ip: string): boolean {
    const family = isIP(ip);
    return family !== 0 && this.trusted.check(ip, family === 6 ? 'ipv6' : 'ipv4');
  }

  private takeHandshake(ip: string): boolean {
    const now = Date.now();
    let entry = this.buckets.get(ip);
    if (!entry) {
      if (this.buckets.size >= MAX_TRACKED_IPS) this.forgetIdle(now);
      const rate = this.options.handshakeRatePerIp;
      entry = { bucket: new TokenBucket(rate, rate * 2), seen: now };
      this.buckets.set(ip, entry);
    }
    entry.seen = now;
    return entry.bucket.take();
  }

  private forgetIdle(now: number): void {
    for (const [ip, entry] of this.buckets) {
      if (now - entry.seen > IDLE_BUCKET_MS) this.buckets.delete(ip);
    }
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** `::ffff:10.0.0.1` (an IPv4 peer on a dual-stack socket) is `10.0.0.1`. */
function normalize(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}
