import { createServer, type Server } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import type { Component } from '../lifecycle';
import { addOperatorRoutes, type HttpAppOptions } from './app';

/**
 * METRICS_PORT: `/metrics`, `/readyz` and `/healthz` on a port of their own, which the public load
 * balancer does not expose (the public port then answers `/metrics` with 404).
 */
export async function serveOperatorEndpoints(
  options: Pick<HttpAppOptions, 'region' | 'nodeId' | 'readiness' | 'metrics'>,
  port: number,
  host: string,
): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const app = addOperatorRoutes(new Hono(), options);
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route for ${c.req.path}` } }, 404));
  const server = createServer(getRequestListener(app.fetch));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    server,
    port: typeof address === 'object' && address ? address.port : port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The operator endpoints as a node component (with METRICS_PORT). */
export class OperatorEndpoints implements Component {
  readonly name = 'operator-endpoints';
  private served: Awaited<ReturnType<typeof serveOperatorEndpoints>> | undefined;

  constructor(
    private readonly options: Pick<HttpAppOptions, 'region' | 'nodeId' | 'readiness' | 'metrics'>,
    private readonly port: number,
    private readonly host: string,
  ) {}

  async start(): Promise<void> {
    this.served = await serveOperatorEndpoints(this.options, this.port, this.host);
  }

  async stop(): Promise<void> {
    await this.served?.close();
  }
}
