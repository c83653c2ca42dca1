import type { TokenPrincipal } from '../../shared';
import type { RegionConfig } from '../config';
import { TokenBucket } from '../limits';
import type { SocketData } from './region-socket';

/** The per-connection rates, shared by every socket of the node. */
export interface SocketRates {
  publishPerSecond: number;
  requestsPerSecond: number;
  answerBytesPerSecond: number;
  /** Burst of the answer-bytes bucket. */
  answerBytesBurst: number;
}

export function socketRates(limits: RegionConfig['limits']): SocketRates {
  return {
    publishPerSecond: limits.publishRatePerConnection,
    requestsPerSecond: limits.requestRatePerConnection,
    answerBytesPerSecond: limits.answerBytesPerSecond,
    answerBytesBurst: limits.maxAnswerBytes * 2,
  };
}

/**
 * What a connection keeps (`socket.data`). Its token buckets are made on first use: a bucket not
 * yet used is full, so an idle connection holds none of them (memory per idle connection), and a
 * connection that only receives holds none ever.
 */
export class SocketState implements SocketData {
  reads = 0;
  expiryBucket = 0;
  private publish: TokenBucket | undefined;
  private requests: TokenBucket | undefined;
  private answers: TokenBucket | undefined;

  constructor(
    public principal: TokenPrincipal,
    private readonly rates: SocketRates,
  ) {}

  get publishBucket(): TokenBucket {
    const rate = this.rates.publishPerSecond;
    return (this.publish ??= new TokenBucket(rate, rate * 2));
  }

  /** One bucket for join, leave, history, presence and auth together. */
  get requestBucket(): TokenBucket {
    const rate = this.rates.requestsPerSecond;
    return (this.requests ??= new TokenBucket(rate, rate * 2));
  }

  /** Bytes of join and history answers: what stored envelopes cost to read back and send. */
  get answerBucket(): TokenBucket {
    const { answerBytesPerSecond, answerBytesBurst } = this.rates;
    return (this.answers ??= new TokenBucket(answerBytesPerSecond, answerBytesBurst));
  }
}
