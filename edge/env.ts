import type { EdgeBindings, EdgeConfig } from './config';

/** The Hono environment of the edge app: bindings plus what middleware attaches to each request. */
export interface EdgeEnv {
  Bindings: EdgeBindings;
  Variables: { requestId: string; config: EdgeConfig };
}
