import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { parseSessionId } from '../../shared';
import { freePort } from './ports';

export interface BalancedNode {
  id: string;
  url: string;
}

export interface RegionBalancer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const HEALTH_INTERVAL_MS = 1_000;

/**
 * The local simulation's stand-in for a region's load balancer: new sessions go round-robin to nodes
 * whose `/readyz` is 200; every request of an existing Socket.IO session (query `sid`, which names its
 * node, see shared/session.ts) goes to that node. WebSocket upgrades are passed through as raw TCP.
 */
export async function startRegionBalancer(options: {
  nodes: BalancedNode[];
  port?: number;
}): Promise<RegionBalancer> {
  const port = options.port ?? (await freePort());
  const nodes = options.nodes.map((n) => ({ ...n, target: new URL(n.url), ready: true }));
  let next = 0;

  const checkHealth = async () => {
    await Promise.all(
      nodes.map(async (node) => {
        try {
          node.ready =
            (await fetch(new URL('/readyz', node.target), { signal: AbortSignal.timeout(900) })).status ===
            200;
        } catch {
          node.ready = false;
        }
      }),
    );
  };
  const healthTimer = setInterval(() => void checkHealth(), HEALTH_INTERVAL_MS);
  await checkHealth();

  const pick = (req: IncomingMessage) => {
    const sid = new URL(req.url ?? '/', 'http://x').searchParams.get('sid');
    const pinned = parseSessionId(sid);
    if (pinned) return nodes.find((n) => n.id === pinned.node);
    const candidates = nodes.filter((n) => n.ready);
    const pool = candidates.length > 0 ? candidates : nodes;
    return pool[next++ % pool.length];
  };

  const server: Server = createServer((req, res) => {
    const node = pick(req);
    const fail = () => {
      if (res.headersSent) return void res.destroy();
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'unavailable', message: 'no node of this region answered' } }));
    };
    if (!node) return fail();
    const upstream = request(
      {
        host: node.target.hostname,
        port: node.target.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', fail);
    req.pipe(upstream);
  });

  const tunnels = new Set<Socket>();
  server.on('upgrade', (req, client: Socket, head: Buffer) => {
    const node = pick(req);
    if (!node) return void client.destroy();
    const upstream = connect({ host: node.target.hostname, port: Number(node.target.port) }, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2)
        lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client).pipe(upstream);
    });
    tunnels.add(client).add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
      tunnels.delete(client);
      tunnels.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        clearInterval(healthTimer);
        for (const socket of tunnels) socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
