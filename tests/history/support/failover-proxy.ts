import { connect, createServer, type Server, type Socket } from 'node:net';
import { freePort } from '../../../harness/processes/ports';

/** A TCP load balancer for tests: each new connection goes to the first upstream that accepts it. */
export interface FailoverProxy {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Stands in for a region's load balancer in front of its nodes: a client that reconnects after its
 * node died lands on the next node that is up. WebSocket connections pass through as raw TCP.
 */
export async function startFailoverProxy(upstreamPorts: number[]): Promise<FailoverProxy> {
  const port = await freePort();
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    client.pause();
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    const attempt = (index: number) => {
      const target = upstreamPorts[index];
      if (target === undefined) return void client.destroy();
      const upstream = connect({ port: target, host: '127.0.0.1' });
      let connected = false;
      upstream.once('error', () => {
        upstream.destroy();
        if (!connected) attempt(index + 1);
      });
      upstream.once('connect', () => {
        connected = true;
        open.add(upstream);
        upstream.on('close', () => {
          open.delete(upstream);
          client.destroy();
        });
        upstream.on('error', () => client.destroy());
        client.on('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(0);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
