import { Hono } from 'hono';

/** The edge Worker. Routing, the WebSocket pass-through and the HTTP API are added in edge/. */
const app = new Hono();
app.get('/healthz', (c) => c.json({ status: 'ok' }));

export default app;
