import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegionBalancer } from '../../harness/processes/haproxy';
import { ensurePromtool } from '../../harness/processes/system-programs';
import { startTestRegion, type TestRegion } from '../support/region-cluster';

const DEPLOY = join(import.meta.dirname, '..', '..', 'infra', 'deploy');
const RULES = join(DEPLOY, 'prometheus', 'alerts.yaml');
const DASHBOARD = join(DEPLOY, 'grafana', 'regions-dashboard.json');

/** Metric names a query or a rule refers to: the node's own, Node.js/process defaults, HAProxy's. */
function metricNames(text: string): Set<string> {
  return new Set([...text.matchAll(/\b(?:rt|haproxy|nodejs|process)_[a-z0-9_]+/g)].map((m) => m[0]));
}

/** Every sample name a Prometheus endpoint can serve, from its `# TYPE` lines. */
function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name!);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

describe('alerting rules', () => {
  beforeAll(() => ensurePromtool());

  it('pass promtool check rules', () => {
    const out = execFileSync('promtool', ['check', 'rules', RULES], { encoding: 'utf8' });
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('fire as their promtool unit tests say (alerts.test.yaml)', () => {
    const out = execFileSync('promtool', ['test', 'rules', 'alerts.test.yaml'], {
      cwd: join(DEPLOY, 'prometheus'),
      encoding: 'utf8',
    });
    expect(out).toContain('SUCCESS');
  });

  it('each have a unit test and a runbook entry', () => {
    const alerts = [...readFileSync(RULES, 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
    const tests = readFileSync(join(DEPLOY, 'prometheus', 'alerts.test.yaml'), 'utf8');
    const runbook = readFileSync(join(DEPLOY, '..', '..', 'docs', 'operations.md'), 'utf8');
    for (const alert of alerts) {
      expect(tests, `a test of ${alert}`).toContain(`alertname: ${alert}\n`);
      expect(runbook, `a runbook entry for ${alert}`).toContain(`#### ${alert}\n`);
    }
  });
});

describe('the dashboard and the rules against what a running region exports', () => {
  let region: TestRegion;
  let balancer: RegionBalancer;
  let exported: Set<string>;
  beforeAll(async () => {
    region = await startTestRegion({ region: 'eu-west', nodes: 1, balancer: true });
    balancer = region.balancer!;
    const node = await (await fetch(`${region.nodes[0]!.url}/metrics`)).text();
    const haproxy = await (await fetch(balancer.metricsUrl)).text();
    exported = new Set([...exportedNames(node), ...exportedNames(haproxy)]);
  });
  afterAll(() => region?.stop());

  it('the dashboard queries only metrics a node or its HAProxy exports', () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
      panels: { title: string; targets: { expr: string }[] }[];
    };
    expect(dashboard.panels.length).toBeGreaterThan(10);
    for (const panel of dashboard.panels) {
      for (const { expr } of panel.targets) {
        const names = metricNames(expr);
        expect(names.size, `a metric in "${panel.title}": ${expr}`).toBeGreaterThan(0);
        for (const name of names) expect(exported, `${name} (panel "${panel.title}")`).toContain(name);
      }
    }
    for (const name of metricNames(readFileSync(DASHBOARD, 'utf8'))) expect(exported).toContain(name);
  });

  it('the alerting rules use only metrics a node or its HAProxy exports', () => {
    const names = metricNames(readFileSync(RULES, 'utf8'));
    expect(names.size).toBeGreaterThan(10);
    for (const name of names) expect(exported, name).toContain(name);
  });
});
