import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import {
  COMPOSE_HAPROXY_FILE,
  KUBERNETES_MAX_NODES,
  composeValues,
  kubernetesValues,
} from '../../infra/deploy/haproxy/deploy-configs';
import { renderHaproxyConfig } from '../../infra/deploy/haproxy/render';
import { ensureHaproxy } from '../../harness/processes/system-programs';
import { parseRegionConfig, regionEnvSchema } from '../../regions/config';

const ROOT = join(import.meta.dirname, '..', '..');
const DEPLOY = join(ROOT, 'infra', 'deploy');
const RUNBOOK = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');

/* eslint-disable @typescript-eslint/no-explicit-any -- Kubernetes objects, read as the YAML gives them */
type K8s = any;

function kubernetes(): K8s[] {
  const dir = join(DEPLOY, 'kubernetes');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((file) => {
      const docs = parseAllDocuments(readFileSync(join(dir, file), 'utf8'));
      for (const doc of docs) expect(doc.errors, file).toEqual([]);
      return docs.map((d) => ({ ...(d.toJS() as object), file }));
    });
}
const objects = kubernetes();
const find = (kind: string, name: string): K8s => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name} in infra/deploy/kubernetes`);
  return found;
};
const nodes = find('StatefulSet', 'realtime-eu-west');
const nodePod = nodes.spec.template.spec;
const node = nodePod.containers[0];

/** Plausible values for what the files leave to secrets, so the node's own parser can judge them. */
const EXAMPLE_SECRETS: Record<string, string> = {
  GLOBAL_REDIS_URL: 'rediss://global-redis.example.com:6380',
  BUS_PEERS: 'us-east=rediss://redis-us-east.example.com:6380',
  DATABASE_URL: 'postgres://app:secret@pg-primary.example.com:5432/realtime',
  DATABASE_REPLICA_URL: 'postgres://app:secret@pg-eu-west.example.com:5432/realtime',
  JWT_SECRET: 'x'.repeat(40),
  EDGE_SECRET: 'y'.repeat(40),
  SERVER_API_KEYS: 'k'.repeat(40),
};

/** The documented secrets: the first column of docs/operations.md's "Secrets" table. */
const documentedSecrets = new Set(
  [...RUNBOOK.slice(RUNBOOK.indexOf('## Secrets')).matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]!),
);

describe('Kubernetes: the region nodes', () => {
  it('set only variables the node reads, every required one, and values the node accepts', () => {
    const names: string[] = node.env.map((e: K8s) => e.name);
    for (const name of names) expect(Object.keys(regionEnvSchema.shape), `unknown ${name}`).toContain(name);
    const required = Object.entries(regionEnvSchema.shape)
      .filter(([, schema]) => !schema.safeParse(undefined).success)
      .map(([name]) => name);
    for (const name of required) expect(names, `missing required ${name}`).toContain(name);
    expect(new Set(names).size).toBe(names.length);
    const env = Object.fromEntries(
      node.env.map((e: K8s) => [
        e.name,
        e.value ?? (e.valueFrom.fieldRef ? 'realtime-eu-west-0' : EXAMPLE_SECRETS[e.name]),
      ]),
    );
    expect(() => parseRegionConfig(env)).not.toThrow();
  });

  it('probe the health endpoints, and wait out the drain before killing a pod', () => {
    const port = node.env.find((e: K8s) => e.name === 'PORT').value;
    expect(node.ports).toEqual([{ name: 'http', containerPort: Number(port) }]);
    expect(node.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' });
    expect(node.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' });
    const drainMs = Number(node.env.find((e: K8s) => e.name === 'DRAIN_TIMEOUT_MS').value);
    expect(nodePod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(drainMs);
  });

  it('are named by the pod (NODE_ID), replaced one at a time, spread over zones, at most one down by choice', () => {
    expect(node.env.find((e: K8s) => e.name === 'NODE_ID').valueFrom).toEqual({
      fieldRef: { fieldPath: 'metadata.name' },
    });
    expect(nodes.spec.updateStrategy.type).toBe('RollingUpdate');
    const labels = nodes.spec.template.metadata.labels;
    expect(nodes.spec.selector.matchLabels).toEqual(labels);
    const zones = nodePod.topologySpreadConstraints.find(
      (c: K8s) => c.topologyKey === 'topology.kubernetes.io/zone',
    );
    expect(zones.labelSelector.matchLabels).toEqual(labels);
    const pdb = find('PodDisruptionBudget', 'realtime-eu-west');
    expect(pdb.spec.selector.matchLabels).toEqual(labels);
    expect(pdb.spec.maxUnavailable).toBe(1);
  });

  it('scale with CPU up to as many nodes as HAProxy has servers for', () => {
    const hpa = find('HorizontalPodAutoscaler', 'realtime-eu-west');
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      name: 'realtime-eu-west',
    });
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa.spec.maxReplicas).toBe(KUBERNETES_MAX_NODES);
    expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
  });
});

describe('Kubernetes: every workload', () => {
  const workloads = objects.filter((o) => ['StatefulSet', 'Deployment', 'Job'].includes(o.kind));

  it('runs as non-root on a read-only root filesystem without privilege escalation', () => {
    expect(workloads.length).toBeGreaterThanOrEqual(4);
    for (const w of workloads) {
      const pod = w.spec.template.spec;
      expect(pod.securityContext?.runAsNonRoot, `${w.kind} ${w.metadata.name}`).toBe(true);
      expect(pod.automountServiceAccountToken, w.metadata.name).toBe(false);
      for (const c of pod.containers) {
        expect(c.securityContext, `${w.metadata.name}/${c.name}`).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        });
      }
    }
  });

  it('takes every secret from edge-realtime-secrets, each documented in the runbook', () => {
    const refs = workloads.flatMap((w) =>
      w.spec.template.spec.containers.flatMap((c: K8s) =>
        (c.env ?? []).filter((e: K8s) => e.valueFrom?.secretKeyRef).map((e: K8s) => e.valueFrom.secretKeyRef),
      ),
    );
    expect(refs.length).toBeGreaterThan(5);
    for (const ref of refs) {
      expect(ref.name).toBe('edge-realtime-secrets');
      expect(documentedSecrets, `secret key ${ref.key}`).toContain(ref.key);
    }
  });
});

describe('Kubernetes: the way in and the regional Redis', () => {
  it('exposes only HAProxy publicly; the nodes and the operator port stay inside the cluster', () => {
    const services = objects.filter((o) => o.kind === 'Service');
    const publicOnes = services.filter((s) => s.spec.type === 'LoadBalancer' || s.spec.type === 'NodePort');
    expect(publicOnes.map((s) => s.metadata.name)).toEqual(['realtime-eu-west']);
    const haproxy = find('Deployment', 'haproxy-eu-west');
    expect(publicOnes[0].spec.selector).toEqual(haproxy.spec.template.metadata.labels);
    expect(publicOnes[0].spec.ports.map((p: K8s) => p.targetPort)).toEqual(['public']);
    const headless = find('Service', nodes.spec.serviceName);
    expect(headless.spec.clusterIP).toBe('None');
    expect(find('Service', 'realtime-eu-west-operator').spec.type).toBe('ClusterIP');
  });

  it("mounts the template's rendering for the StatefulSet's pods as HAProxy's ConfigMap", () => {
    const config = find('ConfigMap', 'haproxy-eu-west').data['haproxy.cfg'];
    expect(config, 'regenerate: node --import tsx infra/deploy/haproxy/deploy-configs.ts').toBe(
      renderHaproxyConfig(kubernetesValues),
    );
    // HAProxy's server names are the pods' names (NODE_ID), at their stable DNS names.
    for (const [i, server] of kubernetesValues.nodes.entries()) {
      expect(server.id).toBe(`${nodes.metadata.name}-${i}`);
      expect(server.address).toContain(`.${nodes.spec.serviceName}.`);
    }
    const haproxy = find('Deployment', 'haproxy-eu-west').spec.template.spec;
    expect(haproxy.volumes[0].configMap.name).toBe('haproxy-eu-west');
  });

  it('runs the regional Redis with AOF persistence on a volume and no eviction', () => {
    const conf = find('ConfigMap', 'redis-eu-west').data['redis.conf'];
    expect(conf).toMatch(/^appendonly yes$/m);
    expect(conf).toMatch(/^maxmemory-policy noeviction$/m);
    const redis = find('StatefulSet', 'redis-eu-west');
    expect(redis.spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    expect(node.env.find((e: K8s) => e.name === 'REDIS_URL').value).toBe('redis://redis-eu-west:6379');
  });

  it('runs the migrations with the same image', () => {
    const migrate = find('Job', 'realtime-migrate').spec.template.spec.containers[0];
    expect(migrate.image).toBe(node.image);
    expect(migrate.command).toEqual(['node', '--import', 'tsx', 'infra/migrate.ts']);
    expect(migrate.env.map((e: K8s) => e.name)).toEqual(['DATABASE_URL']);
  });
});

describe('compose.yaml (one region without Kubernetes)', () => {
  const compose = parse(readFileSync(join(DEPLOY, 'compose.yaml'), 'utf8'), { merge: true }) as K8s;
  const nodeServices = Object.entries(compose.services).filter(([name]) => name.startsWith('eu-west-'));

  it('configures each node with variables the node reads and accepts, each secret documented', () => {
    expect(nodeServices.map(([name]) => name)).toEqual(composeValues.nodes.map((n) => n.id));
    for (const [name, service] of nodeServices as [string, K8s][]) {
      expect(service.environment.NODE_ID).toBe(name);
      const env: Record<string, string> = {};
      for (const [key, value] of Object.entries(service.environment as Record<string, string>)) {
        expect(Object.keys(regionEnvSchema.shape), `unknown ${key}`).toContain(key);
        const ref = /^\$\{([A-Z0-9_]+):([?-])\}$/.exec(value);
        if (ref) expect(documentedSecrets, `${ref[1]} documented`).toContain(ref[1]);
        env[key] = ref ? (ref[2] === '?' ? EXAMPLE_SECRETS[ref[1]!]! : '') : value;
      }
      expect(() => parseRegionConfig(env)).not.toThrow();
      expect(service.read_only).toBe(true);
    }
  });

  it("runs HAProxy with the template's rendering for these nodes, and Redis with AOF and no eviction", () => {
    expect(readFileSync(COMPOSE_HAPROXY_FILE, 'utf8')).toBe(renderHaproxyConfig(composeValues));
    expect(compose.services.haproxy.volumes[0]).toMatch(/^\.\/haproxy\/compose\.cfg:/);
    const redis = compose.services.redis.command.join(' ');
    expect(redis).toContain('--appendonly yes');
    expect(redis).toContain('--maxmemory-policy noeviction');
  });
});

describe('the shipped HAProxy configurations', () => {
  beforeAll(() => ensureHaproxy());

  it('are valid for HAProxy itself', () => {
    for (const file of [COMPOSE_HAPROXY_FILE]) {
      expect(() => execFileSync('haproxy', ['-c', '-q', '-f', file], { stdio: 'pipe' })).not.toThrow();
    }
  });
});

describe('the region image', () => {
  const dockerfile = readFileSync(join(DEPLOY, 'region.Dockerfile'), 'utf8');
  const lines = dockerfile.split('\n').filter((l) => l.trim() && !l.startsWith('#'));

  it('starts on Node 20 and runs the node program as npm run region does', () => {
    expect(lines[0]).toMatch(/^FROM node:20\b/);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
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
