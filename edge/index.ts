import { createEdgeApp } from './app';

/** The edge Worker's entry (wrangler.toml `main`). */
export default createEdgeApp();
