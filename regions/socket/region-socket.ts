import type { Socket } from 'socket.io';
import type { ClientEvents, ServerEvents, TokenPrincipal } from '../../shared';
import type { TokenBucket } from '../limits';

/** What a connection keeps (`socket.data`; made by `SocketState` in state.ts). */
export interface SocketData {
  principal: TokenPrincipal;
  publishBucket: TokenBucket;
  /** One bucket for join, leave, history, presence and auth together. */
  requestBucket: TokenBucket;
  /** Bytes of join and history answers: what stored envelopes cost to read back and send. */
  answerBucket: TokenBucket;
  /** History and recovery reads running now. */
  reads: number;
  /** The second the expiry sweep holds this socket under. */
  expiryBucket: number;
}

export type RegionSocket = Socket<ClientEvents, ServerEvents, Record<string, never>, SocketData>;
