import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { regionEnvSchema } from '../../regions/config';

const DEPLOY = join(import.meta.dirname, '..', '..', 'infra', 'deploy');

interface Container {
  name: string;
  image: string;
  command?: string[];
  ports?: { name: string; containerPort: number }[];
  env: { name: string; value?: string; valueFrom?: unknown }[];
  readinessProbe?: { httpGet: { path: string; port: string } };
  livenessProbe?: { httpGet: { path: string; port: string } };
}

function manifests(file: string): Record<string, unknown>[] {
  const docs = parseAllDocuments(readFileSync(join(DEPLOY, 'kubernetes', file), 'utf8'));
  for (const doc of docs) expect(doc.errors, file).toEqual([]);
  return docs.map((d) => d.toJS() as Record<string, unknown>);
}

const required = Object.entries(regionEnvSchema.shape)
  .filter(([, schema]) => !schema.safeParse(undefined).success)
  .map(([name]) => name);

describe('Kubernetes manifests', () => {
  const [deployment, service] = manifests('region.yaml') as [
    {
      kind: string;
      spec: { template: { spec: { terminationGracePeriodSeconds: number; containers: Container[] } } };
    },
    { kind: string; spec: { sessionAffinity: string; ports: { targetPort: string }[] } },
  ];
  const pod = deployment.spec.template.spec;
  const node = pod.containers[0]!;

  it('configure the region node with exactly the variables it reads, every required one included', () => {
    const names = node.env.map((e) => e.name);
    for (const name of names)
      expect(Object.keys(regionEnvSchema.shape), `unknown variable ${name}`).toContain(name);
    for (const name of required) expect(names, `missing required variable ${name}`).toContain(name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('probe the health endpoints on the port the node listens on, and wait out the drain', () => {
    const port = node.env.find((e) => e.name === 'PORT')!.value;
    expect(node.ports).toEqual([{ name: 'http', containerPort: Number(port) }]);
    expect(node.readinessProbe!.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(node.livenessProbe!.httpGet).toEqual({ path: '/healthz', port: 'http' });
    const drainMs = Number(node.env.find((e) => e.name === 'DRAIN_TIMEOUT_MS')!.value);
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(drainMs);
  });

  it('put the region behind a Service that keeps a client on one pod', () => {
    expect([deployment.kind, service.kind]).toEqual(['Deployment', 'Service']);
    expect(service.spec.sessionAffinity).toBe('ClientIP');
    expect(service.spec.ports[0]!.targetPort).toBe('http');
  });

  it('run the migrations with the same image', () => {
    const [job] = manifests('migrate-job.yaml') as [
      { spec: { template: { spec: { containers: Container[] } } } },
    ];
    const migrate = job.spec.template.spec.containers[0]!;
    expect(migrate.image).toBe(node.image);
    expect(migrate.command).toEqual(['node', '--import', 'tsx', 'infra/migrate.ts']);
    expect(migrate.env.map((e) => e.name)).toEqual(['DATABASE_URL']);
  });
});

describe('the region image', () => {
  const dockerfile = readFileSync(join(DEPLOY, 'region.Dockerfile'), 'utf8');
  const lines = dockerfile.split('\n').filter((l) => l.trim() && !l.startsWith('#'));

  it('starts on Node 20 and runs the node program as npm run region does', () => {
    expect(lines[0]).toMatch(/^FROM node:20\b/);
    const pkg = JSON.parse(readFileSync(join(DEPLOY, '..', '..', 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const cmd = JSON.parse(lines.find((l) => l.startsWith('CMD '))!.slice(4)) as string[];
    expect(cmd.join(' ')).toBe(pkg.scripts.region);
  });

  it('copies every folder the node program imports, and exposes its port', () => {
    for (const folder of ['shared', 'regions', 'infra/migrations'])
      expect(dockerfile).toContain(`COPY ${folder} `);
    expect(lines).toContain('EXPOSE 3000');
    expect(lines).toContain('ENV PORT=3000');
    expect(lines).toContain('STOPSIGNAL SIGTERM');
  });
});
