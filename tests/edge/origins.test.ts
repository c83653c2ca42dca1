import { describe, expect, it } from 'vitest';
import { edgeConfig } from '../../edge/config';
import { originUrl } from '../../edge/routing';
import { regionStates, type NodeHealthEntry, type Region } from '../../shared/regions';

const NOW = 1_700_000_000_000;
const region: Region = { id: 'eu-west', url: 'http://eu-west.lb', lat: 53.3, lon: -6.3 };
const node = (name: string, overrides: Partial<NodeHealthEntry> = {}): NodeHealthEntry => ({
  region: 'eu-west',
  node: name,
  url: `http://${name}.internal`,
  connections: 0,
  capacity: 100,
  load: 0,
  draining: false,
  expiresAt: NOW + 5_000,
  ...overrides,
});

function setup(direct: boolean, entries: NodeHealthEntry[]) {
  const config = edgeConfig({ REGIONS: [region], DIRECT_TO_NODES: direct ? '1' : '0' });
  const [state] = regionStates(config.regions, entries, NOW);
  return { config, state };
}

describe('which URL reaches a region', () => {
  const entries = [
    node('eu-west-1', { connections: 80 }),
    node('eu-west-2', { connections: 10 }),
    node('eu-west-3', { connections: 0, draining: true }),
    node('eu-west-4', { connections: 0, expiresAt: NOW - 1 }),
  ];

  it('is the region URL (its load balancer) by default', () => {
    const { config, state } = setup(false, entries);
    expect(originUrl(config, region, state)).toBe('http://eu-west.lb');
    expect(originUrl(config, region, state, 'eu-west-1')).toBe('http://eu-west.lb');
  });

  it('with DIRECT_TO_NODES, is the accepting node with the most room for a new session', () => {
    const { config, state } = setup(true, entries);
    expect(originUrl(config, region, state)).toBe('http://eu-west-2.internal');
  });

  it('with DIRECT_TO_NODES, is the node a session names while it is fresh', () => {
    const { config, state } = setup(true, entries);
    expect(originUrl(config, region, state, 'eu-west-1')).toBe('http://eu-west-1.internal');
    expect(originUrl(config, region, state, 'eu-west-4')).toBe('http://eu-west.lb');
    expect(originUrl(config, region, state, 'unknown')).toBe('http://eu-west.lb');
  });
});
