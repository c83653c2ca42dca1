import type { ExtendedError } from 'socket.io';
import { ProtocolError, type TokenVerifier } from '../../shared';
import type { RegionConfig } from '../config';
import { TokenBucket, type UserLimits } from '../limits';
import type { RegionMetrics } from '../metrics';
import type { Revocations } from '../server-api/user-control';
import type { RegionSocket } from './handlers';

/**
 * Admits a Socket.IO handshake: refused with `unavailable` while draining or over the node's
 * capacity, `unauthorized` without a valid token, `rate_limited` when the user already has the most
 * connections the region allows. The `connect_error` message is the contract's code.
 */
export function admitHandshake(deps: {
  config: Pick<RegionConfig, 'limits'>;
  verifyToken: TokenVerifier;
  userLimits: UserLimits;
  metrics: RegionMetrics;
  /** Tokens revoked through the server API are refused like invalid ones. */
  revocations: Revocations;
  unavailable: () => boolean;
}) {
  const { config, userLimits, metrics } = deps;
  return async function admit(socket: RegionSocket, next: (err?: ExtendedError) => void): Promise<void> {
    if (deps.unavailable()) return next(new Error('unavailable'));
    try {
      const principal = await deps.verifyToken(socket.handshake.auth?.token);
      if (deps.revocations.isRevoked(principal.user, principal.iat)) {
        throw new ProtocolError('unauthorized', 'token revoked');
      }
      if (!(await userLimits.openConnection(principal.user, socket.id))) {
        throw new ProtocolError('rate_limited', 'too many connections for this user');
      }
      const { publishRatePerConnection: publish, requestRatePerConnection: requests } = config.limits;
      const { answerBytesPerSecond, maxAnswerBytes } = config.limits;
      socket.data = {
        principal,
        publishBucket: new TokenBucket(publish, publish * 2),
        requestBucket: new TokenBucket(requests, requests * 2),
        answerBucket: new TokenBucket(answerBytesPerSecond, maxAnswerBytes * 2),
        reads: 0,
        expiryBucket: 0,
      };
      next();
    } catch (err) {
      const code = err instanceof ProtocolError ? err.code : 'unauthorized';
      metrics.errors.inc({ code });
      next(new Error(code));
    }
  };
}
