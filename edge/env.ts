import type { EdgeBindings, EdgeConfig } from './config';
import type { HealthReader } from './routing/health';

/** The Hono environment of the edge app: bindings plus what middleware attaches to each request. */
export interface EdgeEnv {
  Bindings: EdgeBindings;
  Variables: { requestId: string; config: EdgeConfig };
}

/** What the app needs from outside; tests pass their own health. */
export interface EdgeDeps {
  readHealth: HealthReader;
  now: () => number;
}
