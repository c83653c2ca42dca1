import type { ExtendedError } from 'socket.io';
import { ProtocolError, type TokenVerifier } from '../../shared';
import type { RegionConfig } from '../config';
import type { UserLimits } from '../limits';
import type { RegionMetrics } from '../metrics';
import type { Revocations } from '../server-api/user-control';
import type { RegionSocket } from './region-socket';
import { SocketState, socketRates } from './state';

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
  const rates = socketRates(config.limits);
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
      socket.data = new SocketState(principal, rates);
      next();
    } catch (err) {
      const code = err instanceof ProtocolError ? err.code : 'unauthorized';
      metrics.errors.inc({ code });
      next(new Error(code));
    }
  };
}
