import { describe, expect, it } from 'vitest';
import { parseRegionConfig } from '../../regions/config';
import { parseRedisTarget } from '../../regions/redis';
import { TEST_JWT_SECRET } from '../support/tokens';

describe('REDIS_URL / GLOBAL_REDIS_URL: one server or a Redis Cluster', () => {
  it('takes redis:// and rediss:// as one server', () => {
    expect(parseRedisTarget('redis://127.0.0.1:6379')).toEqual({
      kind: 'server',
      url: 'redis://127.0.0.1:6379',
    });
    expect(parseRedisTarget('rediss://:pw@cache.example:6380/0').kind).toBe('server');
  });

  it('takes redis+cluster://host:port,host:port as the seeds of a cluster', () => {
    expect(parseRedisTarget('redis+cluster://10.0.0.1:7000,redis-b.internal:7001,[::1]:7002')).toEqual({
      kind: 'cluster',
      tls: false,
      seeds: [
        { host: '10.0.0.1', port: 7000 },
        { host: 'redis-b.internal', port: 7001 },
        { host: '::1', port: 7002 },
      ],
    });
  });

  it('takes rediss+cluster:// as a cluster over TLS, with credentials before the seeds', () => {
    expect(parseRedisTarget('rediss+cluster://app:s%40cret@a.example:6379')).toEqual({
      kind: 'cluster',
      tls: true,
      seeds: [{ host: 'a.example', port: 6379 }],
      username: 'app',
      password: 's@cret',
    });
  });

  it.each([
    'redis+cluster://',
    'redis+cluster://a.example',
    'redis+cluster://a.example:7000,',
    'redis+cluster://a.example:99999',
    'redis+cluster://a.example:7000/0',
    'http://a.example:6379',
    'a.example:6379',
  ])('refuses %s', (url) => {
    expect(() => parseRedisTarget(url)).toThrow(/must be|is not host:port/);
  });
});

describe('BUS_PEERS naming a peer region whose Redis is a cluster', () => {
  const env = {
    REGION: 'us-east',
    PORT: '0',
    REDIS_URL: 'redis+cluster://10.0.0.1:7000,10.0.0.2:7000',
    GLOBAL_REDIS_URL: 'redis://10.0.9.1:6379',
    DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db',
    JWT_SECRET: TEST_JWT_SECRET,
  };

  it('splits peers only before region=, so a seed list stays whole', () => {
    const config = parseRegionConfig({
      ...env,
      BUS_PEERS: 'eu-west=redis+cluster://10.1.0.1:7000,10.1.0.2:7000,ap-southeast=redis://10.2.0.5:6379',
    });
    expect(config.redisUrl).toBe('redis+cluster://10.0.0.1:7000,10.0.0.2:7000');
    expect(config.bus.peers).toEqual([
      { region: 'eu-west', url: 'redis+cluster://10.1.0.1:7000,10.1.0.2:7000' },
      { region: 'ap-southeast', url: 'redis://10.2.0.5:6379' },
    ]);
  });

  it('refuses a peer whose cluster seed is not host:port, naming BUS_PEERS', () => {
    expect(() =>
      parseRegionConfig({ ...env, BUS_PEERS: 'eu-west=redis+cluster://10.1.0.1:7000,10.1.0.2' }),
    ).toThrow(/^BUS_PEERS: is invalid/);
  });
});
