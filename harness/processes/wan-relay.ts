import { createServer, connect, type Server, type Socket } from 'node:net';
import { distanceKm, type GeoPoint } from '../../shared';
import { freePort } from './ports';

/**
 * Light in fibre covers about 200 km per millisecond; real routes are longer than the great circle,
 * which the simulation ignores, so its delays are a lower bound of what the same regions would see.
 */
const FIBRE_KM_PER_MS = 200;

/** One-way WAN delay in milliseconds between two places, from their great-circle distance. */
export function oneWayDelayMs(a: GeoPoint, b: GeoPoint): number {
  return Math.ceil(distanceKm(a, b) / FIBRE_KM_PER_MS);
}

/** A TCP relay on loopback that delays every byte by `delayMs` in each direction. */
export interface WanRelay {
  readonly port: number;
  readonly delayMs: number;
  /**
   * Holds every byte in both directions, connections staying open (a link that hangs: nothing
   * answers, nothing fails), until `release`, which delivers what was held, in order.
   */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

/**
 * Starts a relay from a free loopback port to `target`. Each chunk is forwarded `delayMs` after it
 * arrived, in order (equal delays keep order), so a request/response pays one round trip of 2 x delay.
 */
export async function startWanRelay(
  target: { host?: string; port: number },
  delayMs: number,
  port?: number,
): Promise<WanRelay> {
  const listenPort = port ?? (await freePort());
  const sockets = new Set<Socket>();
  const gate: Gate = { held: false, queue: [] };
  // Half-open sockets: each direction ends on its own, after its delayed data.
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ host: target.host ?? '127.0.0.1', port: target.port, allowHalfOpen: true });
    sockets.add(client).add(upstream);
    relay(client, upstream, delayMs, gate);
    relay(upstream, client, delayMs, gate);
    const abort = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', abort).on('close', () => sockets.delete(client));
    upstream.on('error', abort).on('close', () => sockets.delete(upstream));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, '127.0.0.1', () => resolve());
  });
  return {
    port: listenPort,
    delayMs,
    hold: () => {
      gate.held = true;
    },
    release: () => {
      gate.held = false;
      for (const send of gate.queue.splice(0)) send();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** While `held`, bytes wait in `queue` (both directions, in arrival order). */
interface Gate {
  held: boolean;
  queue: (() => void)[];
}

function relay(from: Socket, to: Socket, delayMs: number, gate: Gate): void {
  const send = (chunk: Buffer) => {
    if (gate.held) gate.queue.push(() => to.writable && to.write(chunk));
    else if (to.writable) to.write(chunk);
  };
  from.on('data', (chunk: Buffer) => {
    if (delayMs <= 0) send(chunk);
    else setTimeout(() => send(chunk), delayMs);
  });
  // A half-close travels with the same delay, after the data sent before it.
  from.on('end', () => setTimeout(() => (gate.held ? gate.queue.push(() => to.end()) : to.end()), delayMs));
}
