/** What `REDIS_URL` / `GLOBAL_REDIS_URL` name: one server, or a cluster by its seed nodes. */
export type RedisTarget =
  | { kind: 'server'; url: string }
  | {
      kind: 'cluster';
      tls: boolean;
      seeds: { host: string; port: number }[];
      username?: string;
      password?: string;
    };

const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/;
const SEED = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/**
 * Parses a Redis URL: `redis://` / `rediss://` for one server, or
 * `redis+cluster://host1:port1,host2:port2` (`rediss+cluster://` for TLS, optional `user:password@`
 * before the seeds) for a Redis Cluster. Throws with the reason on anything else.
 */
export function parseRedisTarget(url: string): RedisTarget {
  const cluster = CLUSTER_URL.exec(url);
  if (cluster) {
    const [, scheme, auth, hosts] = cluster as unknown as [string, string, string | undefined, string];
    const seeds = hosts.split(',').map((seed) => {
      const match = SEED.exec(seed);
      const port = Number(match?.[2]);
      if (!match || port < 1 || port > 65_535) throw new Error(`seed "${seed}" is not host:port`);
      return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
    });
    const target: RedisTarget = { kind: 'cluster', tls: scheme === 'rediss', seeds };
    if (auth) {
      const colon = auth.indexOf(':');
      const username = decodeURIComponent(colon < 0 ? '' : auth.slice(0, colon));
      const password = decodeURIComponent(colon < 0 ? auth : auth.slice(colon + 1));
      if (username) target.username = username;
      if (password) target.password = password;
    }
    return target;
  }
  if (/\+cluster:/.test(url)) throw new Error('must be redis+cluster://host:port,host:port,...');
  const parsed = URL.canParse(url) ? new URL(url) : undefined;
  if (!parsed || (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') || !parsed.hostname) {
    throw new Error('must be a redis:// or rediss:// URL, or redis+cluster://host:port,host:port');
  }
  return { kind: 'server', url };
}
