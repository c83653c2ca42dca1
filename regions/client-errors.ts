import { ProtocolError, type ErrorBody } from '../shared';
import type { Logger } from './log';
import type { RegionMetrics } from './metrics';

/**
 * Maps any error to the `{ code, message }` a client may see: a `ProtocolError` as it is (counted by
 * code); anything else as `unavailable`, logged once with its context and counted as an internal error.
 */
export function clientErrorMapper(deps: { log: Logger; metrics: RegionMetrics }) {
  return (err: unknown, context: Record<string, unknown>): ErrorBody => {
    if (err instanceof ProtocolError) {
      deps.metrics.errors.inc({ code: err.code });
      return err.toBody();
    }
    deps.metrics.errors.inc({ code: 'unavailable' });
    deps.metrics.internalErrors.inc({ component: String(context.event ?? context.route ?? 'unknown') });
    deps.log.error({ err, ...context }, 'internal error');
    return { code: 'unavailable', message: 'internal error; retry later' };
  };
}
