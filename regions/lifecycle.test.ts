import pino from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { Lifecycle, type Component } from './lifecycle';
import { MemoryNodeRegistry, NodeLiveness } from './liveness';
import { RegionMetrics } from './metrics';

const log = pino({ level: 'silent' });

/** A component that records what happens to it in `events`. */
function recorded(name: string, events: string[], extra: Partial<Component> = {}): Component {
  return {
    name,
    start: () => void events.push(`start ${name}`),
    drain: async (reason) => void events.push(`drain ${name} (${reason})`),
    stop: () => void events.push(`stop ${name}`),
    ...extra,
  };
}

describe('Lifecycle', () => {
  it('starts in order, then drains every component and stops them, both in reverse order', async () => {
    const events: string[] = [];
    const lifecycle = new Lifecycle(
      ['a', 'b', 'c'].map((n) => recorded(n, events)),
      log,
    );
    await lifecycle.start();
    expect(lifecycle.isDraining).toBe(false);
    const first = lifecycle.shutdown('shutdown');
    expect(lifecycle.isDraining).toBe(true);
    await Promise.all([first, lifecycle.shutdown('again')]);
    expect(events).toEqual([
      'start a',
      'start b',
      'start c',
      'drain c (shutdown)',
      'drain b (shutdown)',
      'drain a (shutdown)',
      'stop c',
      'stop b',
      'stop a',
    ]);
  });

  it('stops what started when a later component fails to start, and rethrows', async () => {
    const events: string[] = [];
    const broken = recorded('b', events, {
      start: () => {
        throw new Error('no port');
      },
    });
    const lifecycle = new Lifecycle([recorded('a', events), broken, recorded('c', events)], log);
    await expect(lifecycle.start()).rejects.toThrow('no port');
    expect(events).toEqual(['start a', 'stop a']);
  });

  it('goes on stopping the rest when one stop fails', async () => {
    const events: string[] = [];
    const failing = recorded('b', events, { stop: () => Promise.reject(new Error('hung')) });
    const lifecycle = new Lifecycle([recorded('a', events), failing, recorded('c', events)], log);
    await lifecycle.start();
    await lifecycle.shutdown('shutdown');
    expect(events.filter((e) => e.startsWith('stop'))).toEqual(['stop c', 'stop a']);
  });

  it('is ready while every critical check is up and it is not draining; lists every check', async () => {
    let redis = 'up';
    const lifecycle = new Lifecycle(
      [
        recorded('redis', [], { checks: [{ name: 'redis', state: () => redis, critical: true }] }),
        recorded('history', [], { checks: [{ name: 'postgres', state: async () => 'down' }] }),
      ],
      log,
    );
    await lifecycle.start();
    expect(await lifecycle.readiness()).toEqual({ ready: true, checks: { redis: 'up', postgres: 'down' } });
    redis = 'down';
    expect((await lifecycle.readiness()).ready).toBe(false);
    redis = 'up';
    await lifecycle.shutdown('shutdown');
    expect(await lifecycle.readiness()).toEqual({
      ready: false,
      checks: { redis: 'up', postgres: 'down', node: 'draining' },
    });
  });
});

describe('NodeLiveness on one registry', () => {
  const metrics = new RegionMetrics({ region: 'r', node: 'n' });
  const liveness = (registry: MemoryNodeRegistry, nodeId: string, onDead: string[], leaseMs = 5_000) =>
    new NodeLiveness({
      registry,
      nodeId,
      leaseMs,
      beatMs: 20,
      onDead: [async (node) => void onDead.push(node)],
      log,
      metrics,
    });

  it('counts live nodes, cleans up after a dead one once, and counts a stopped node out at once', async () => {
    const registry = new MemoryNodeRegistry();
    const cleaned: string[] = [];
    const [a, b, c] = [
      liveness(registry, 'a', cleaned),
      liveness(registry, 'b', cleaned),
      liveness(registry, 'c', []),
    ];
    await Promise.all([a.start(), b.start(), c.start()]);
    expect(await registry.liveCount()).toBe(3);

    await c.stop();
    expect(await registry.liveCount()).toBe(2);

    // A crashed node: its lease runs out and it never left the registry.
    await registry.renew('d', 1);
    await vi.waitFor(() => expect(cleaned).toEqual(['d']), { timeout: 3_000, interval: 5 });
    await new Promise((resolve) => setTimeout(resolve, 100)); // a few more beats of both nodes
    expect(cleaned).toEqual(['d']); // by one of the two live nodes, once
    expect(await registry.liveCount()).toBe(2);
    await Promise.all([a.stop(), b.stop()]);
    expect(await registry.liveCount()).toBe(0);
  });
});
