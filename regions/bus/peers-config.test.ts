import { describe, expect, it } from 'vitest';
import { ConfigError, parseRegionConfig } from '../config';

const base = {
  REGION: 'eu-west',
  PORT: '0',
  REDIS_URL: 'redis://127.0.0.1:6379',
  GLOBAL_REDIS_URL: 'redis://127.0.0.1:6380',
  DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db',
  JWT_SECRET: 'x'.repeat(32),
};

function peersError(value: string): string {
  try {
    parseRegionConfig({ ...base, BUS_PEERS: value });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error(`BUS_PEERS=${value} was accepted`);
}

describe('BUS_PEERS', () => {
  it('names each peer region and the URL of its Redis', () => {
    const config = parseRegionConfig({
      ...base,
      BUS_PEERS: 'us-east=redis://10.0.0.1:6379, ap-southeast=rediss://user:pw@10.0.0.2:6380/0',
    });
    expect(config.bus.peers).toEqual([
      { region: 'us-east', url: 'redis://10.0.0.1:6379' },
      { region: 'ap-southeast', url: 'rediss://user:pw@10.0.0.2:6380/0' },
    ]);
    expect(parseRegionConfig(base).bus.peers).toEqual([]);
  });

  it('refuses a malformed item, a region named twice, and the node own region, naming the variable', () => {
    expect(peersError('us-east')).toMatch(/^BUS_PEERS: is invalid/);
    expect(peersError('us-east=http://10.0.0.1')).toMatch(/^BUS_PEERS: is invalid/);
    expect(peersError('us-east=redis://a:1,us-east=redis://b:1')).toMatch(/^BUS_PEERS: is invalid/);
    expect(peersError('eu-west=redis://a:1')).toMatch(
      /^BUS_PEERS: is invalid \(names this node's own region/,
    );
  });
});
