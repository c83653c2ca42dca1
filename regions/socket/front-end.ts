import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { getRequestListener } from '@hono/node-server';
import type { TokenVerifier } from '../../shared';
import type { RegionConfig } from '../config';
import { createHttpApp, type HttpAppOptions } from '../http/app';
import type { Component } from '../lifecycle';
import type { UserLimits } from '../limits';
import type { Logger } from '../log';
import type { RegionMetrics } from '../metrics';
import type { RegionIo } from '../publish';
import type { Revocations } from '../server-api/user-control';
import type { RegionServices } from '../services';
import { SessionExpiry } from './expiry';
import { socketHandlers } from './handlers';
import type { RegionSocket } from './region-socket';
import { admitHandshake } from './handshake';
import { fitListenerLists, releaseHandshakeRequests } from './idle-memory';

/** After clients left, how long in-flight HTTP requests get to finish before their connections are cut. */
const HTTP_CLOSE_GRACE_MS = 2_000;

export interface FrontEndOptions {
  config: RegionConfig;
  io: RegionIo;
  httpServer: HttpServer;
  /** The HTTP API and operator endpoints (`createHttpApp`). */
  http: HttpAppOptions;
  services: RegionServices;
  verifyToken: TokenVerifier;
  userLimits: UserLimits;
  revocations: Revocations;
  metrics: RegionMetrics;
  /** True once the node drains: handshakes are then refused `unavailable`. */
  isDraining(): boolean;
  log: Logger;
}

/**
 * What clients reach: the Socket.IO handshake (token, per-user connections, capacity, draining), the
 * socket event handlers, session expiry, and the Hono app for every other HTTP request, on one
 * listening port. Draining tells every client to reconnect elsewhere and waits (up to
 * DRAIN_TIMEOUT_MS) while still listening, so long-polling sessions get `drain`, `/readyz` answers
 * 503 and a new handshake is refused with the contract's `unavailable`, not a refused connection.
 */
export class FrontEnd implements Component {
  readonly name = 'front-end';
  private readonly expiry: SessionExpiry;

  constructor(private readonly options: FrontEndOptions) {
    const { config, io, userLimits } = options;
    io.use(
      admitHandshake({
        config,
        verifyToken: options.verifyToken,
        userLimits,
        metrics: options.metrics,
        revocations: options.revocations,
        unavailable: () =>
          options.isDraining() || this.connectedSockets() >= config.limits.maxConnectionsPerNode,
      }),
    );
    this.expiry = new SessionExpiry((socket, exp) => {
      socket.emit('expired', { exp });
      socket.disconnect(true);
    });
    const attachHandlers = socketHandlers({
      services: options.services,
      limits: config.limits,
      verifyToken: options.verifyToken,
      expiry: this.expiry,
    });
    const closeUserConnection = function (this: RegionSocket) {
      void userLimits.closeConnection(this.data.principal.user, this.id);
    };
    releaseHandshakeRequests(io);
    io.on('connection', (socket: RegionSocket) => {
      socket.emit('session', { region: config.region, node: config.nodeId });
      attachHandlers(socket);
      socket.on('disconnect', closeUserConnection);
      fitListenerLists(socket);
    });
    // Socket.IO answers its own path; every other request goes to the Hono app.
    const handleHttp = getRequestListener(createHttpApp(options.http).fetch);
    options.httpServer.on('request', (req, res) => {
      if (!req.url?.startsWith('/socket.io/')) void handleHttp(req, res);
    });
  }

  /** Sockets that completed the authenticated connect: the node's load (capacity, health beacon). */
  connectedSockets(): number {
    return this.options.io.of('/').sockets.size;
  }

  /** This node's sockets with their users (connection leases). */
  connections(): { user: string; socketId: string }[] {
    const sockets = [...this.options.io.of('/').sockets.values()] as RegionSocket[];
    return sockets.map((s) => ({ user: s.data.principal.user, socketId: s.id }));
  }

  /** Rooms with members on this node (a socket's own room aside). */
  roomCount(): number {
    const { adapter } = this.options.io.of('/');
    return [...adapter.rooms.keys()].filter((room) => !adapter.sids.has(room)).length;
  }

  /** The port it listens on (after `start`). */
  get port(): number {
    return (this.options.httpServer.address() as AddressInfo).port;
  }

  async start(): Promise<void> {
    this.expiry.start();
    const { httpServer, config } = this.options;
    await new Promise<void>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.port, config.host, () => {
        httpServer.off('error', reject);
        resolve();
      });
    });
  }

  /** `drain` to every client, then up to DRAIN_TIMEOUT_MS for them to leave. */
  async drain(reason: string): Promise<void> {
    const { io, config, log } = this.options;
    log.info({ reason, clients: io.engine.clientsCount }, 'draining');
    io.local.emit('drain', { reason });
    const deadline = Date.now() + config.drainTimeoutMs;
    while (io.engine.clientsCount > 0 && Date.now() < deadline) await sleep(100);
  }

  /** Closes the remaining sessions and the port; in-flight HTTP requests get a short grace. */
  async stop(): Promise<void> {
    const { io, httpServer, log } = this.options;
    const remaining = io.engine.clientsCount;
    this.expiry.stop();
    // Closes every Engine.IO session, then the HTTP server, which calls back once its connections end.
    const grace = new AbortController();
    const closed = new Promise<void>((resolve) => io.close(() => resolve()));
    const timeout = sleep(HTTP_CLOSE_GRACE_MS, undefined, { signal: grace.signal }).catch(() => undefined);
    await Promise.race([closed, timeout]);
    grace.abort();
    httpServer.closeAllConnections();
    log.info({ remaining }, 'clients gone');
  }
}
