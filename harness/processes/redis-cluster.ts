import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { startServerProcess, type ServerProcess } from './child';
import { freePort, waitForPort } from './ports';

const run = promisify(execFile);

/** How long the cluster may take to agree on its slots after `--cluster create`. */
const FORM_DEADLINE_MS = 30_000;
/** How long a replica may take to be promoted after its master is killed. */
const FAILOVER_DEADLINE_MS = 30_000;

/** One `redis-server` of a local cluster. */
export interface ClusterMember {
  readonly port: number;
  readonly pid: number;
  /** Kills the server outright (SIGKILL), as a crash would. */
  kill(): Promise<void>;
}

/** A real Redis Cluster on loopback: `masters` masters, each with one replica, nothing saved. */
export interface LocalRedisCluster {
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,...` naming every member as a seed. */
  readonly url: string;
  readonly members: readonly ClusterMember[];
  /** The members that are masters now (asked of a live member). */
  masters(): Promise<ClusterMember[]>;
  /** The master that serves `key`'s slot now. */
  masterOf(key: string): Promise<ClusterMember>;
  /** Waits until every slot is served again after a master died (its replica was promoted). */
  waitForFailover(deadPort: number): Promise<void>;
  /** Stops every server (SIGTERM) and removes their directories. */
  stop(): Promise<void>;
}

export interface RedisClusterOptions {
  /** Masters (each gets one replica); 3 is the smallest cluster `redis-cli --cluster create` accepts. */
  masters?: number;
}

/**
 * Starts `2 × masters` `redis-server --cluster-enabled yes` processes on free loopback ports, each in
 * its own temporary directory (cluster state files), joins them with
 * `redis-cli --cluster create ... --cluster-replicas 1`, and waits for `cluster_state:ok` on every
 * member. Everything it started is stopped if it fails.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<LocalRedisCluster> {
  const masters = options.masters ?? 3;
  const dir = await mkdtemp(join(tmpdir(), 'rt-redis-cluster-'));
  const servers: { port: number; proc: ServerProcess }[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.proc.stop()));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters * 2; i++) {
      const port = await freePort();
      // The cluster bus port defaults to port + 10000, which may be taken or out of range.
      const busPort = await freePort();
      servers.push({ port, proc: startMember(port, busPort, dir) });
    }
    await Promise.all(servers.map((s) => waitForPort(s.port)));
    const addresses = servers.map((s) => `127.0.0.1:${s.port}`);
    await run(
      'redis-cli',
      ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'],
      {
        timeout: FORM_DEADLINE_MS,
      },
    );
    await waitUntil(FORM_DEADLINE_MS, 'the cluster to form', async () => {
      const states = await Promise.all(servers.map((s) => clusterInfo(s.port)));
      if (!states.every((info) => info.includes('cluster_state:ok'))) return false;
      // Every replica in sync, so a master killed right away has a replica that can take over.
      const roles = await Promise.all(servers.map((s) => cli(s.port, ['info', 'replication'])));
      return roles.every((info) => !info.includes('role:slave') || info.includes('master_link_status:up'));
    });
  } catch (err) {
    const output = servers.map((s) => s.proc.output().slice(-300)).join('\n');
    await stop();
    throw new Error(`Redis Cluster did not start: ${(err as Error).message}\n${output}`);
  }

  const members: ClusterMember[] = servers.map((s) => ({
    port: s.port,
    get pid() {
      return s.proc.pid;
    },
    kill: () => s.proc.kill(),
  }));
  const live = () =>
    servers.filter((s) => s.proc.child.exitCode === null && s.proc.child.signalCode === null);
  const askAnyLive = async (args: string[]) => {
    for (const s of live()) {
      try {
        return await cli(s.port, args);
      } catch {
        // try the next member
      }
    }
    throw new Error('no live cluster member answers');
  };
  const memberByPort = (port: number) => {
    const member = members.find((m) => m.port === port);
    if (!member) throw new Error(`no cluster member on port ${port}`);
    return member;
  };
  return {
    url: `redis+cluster://${servers.map((s) => `127.0.0.1:${s.port}`).join(',')}`,
    members,
    async masters() {
      const nodes = await askAnyLive(['cluster', 'nodes']);
      return parseNodes(nodes)
        .filter((n) => n.flags.includes('master') && !n.flags.includes('fail'))
        .map((n) => memberByPort(n.port));
    },
    async masterOf(key) {
      const slot = Number((await askAnyLive(['cluster', 'keyslot', key])).trim());
      const nodes = parseNodes(await askAnyLive(['cluster', 'nodes']));
      const owner = nodes.find(
        (n) => n.flags.includes('master') && n.slots.some(([from, to]) => slot >= from && slot <= to),
      );
      if (!owner) throw new Error(`no master serves slot ${slot}`);
      return memberByPort(owner.port);
    },
    async waitForFailover(deadPort) {
      await waitUntil(FAILOVER_DEADLINE_MS, 'a replica to take over', async () => {
        const states = await Promise.all(live().map((s) => clusterInfo(s.port).catch(() => '')));
        if (!states.every((info) => info.includes('cluster_state:ok'))) return false;
        const nodes = parseNodes(await askAnyLive(['cluster', 'nodes']));
        const served = nodes.filter((n) => n.flags.includes('master') && n.port !== deadPort);
        return served.reduce((sum, n) => sum + n.slots.reduce((s, [a, b]) => s + b - a + 1, 0), 0) === 16_384;
      });
    },
    stop,
  };
}

function startMember(port: number, busPort: number, dir: string): ServerProcess {
  return startServerProcess('redis-server', [
    '--port',
    String(port),
    '--cluster-port',
    String(busPort),
    '--bind',
    '127.0.0.1',
    '--protected-mode',
    'no',
    '--save',
    '',
    '--appendonly',
    'no',
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    join(dir, `nodes-${port}.conf`),
    '--dir',
    dir,
    // A dead master is noticed and replaced within about this time; tests kill masters on purpose.
    '--cluster-node-timeout',
    '1000',
    // A replica syncs at once (the default waits 5 s for more replicas to share one transfer).
    '--repl-diskless-sync-delay',
    '0',
  ]);
}

async function cli(port: number, args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], {
    timeout: 5_000,
  });
  return stdout;
}

function clusterInfo(port: number): Promise<string> {
  return cli(port, ['cluster', 'info']);
}

interface NodeLine {
  port: number;
  flags: string[];
  slots: [number, number][];
}

/** Parses `CLUSTER NODES`: `id host:port@bus flags master ping pong epoch state slot...`. */
function parseNodes(text: string): NodeLine[] {
  return text
    .split('\n')
    .filter((line) => line.trim().length > 0)
    .map((line) => {
      const parts = line.trim().split(' ');
      const address = parts[1]!.split('@')[0]!;
      const slots = parts
        .slice(8)
        .filter((s) => !s.startsWith('['))
        .map((s) => {
          const [from, to] = s.split('-').map(Number) as [number, number | undefined];
          return [from, to ?? from] as [number, number];
        });
      return {
        port: Number(address.slice(address.lastIndexOf(':') + 1)),
        flags: parts[2]!.split(','),
        slots,
      };
    });
}

async function waitUntil(deadlineMs: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await sleep(100);
  }
}
