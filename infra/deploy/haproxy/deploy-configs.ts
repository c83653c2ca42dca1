/**
 * The HAProxy configurations the deploy files ship, rendered from the one template:
 * - `kubernetes/haproxy-config.yaml` (a ConfigMap): servers for the StatefulSet's pods realtime-eu-west-0..7
 *   (the autoscaler's maximum), by their stable DNS names; pods that do not exist are simply down.
 * - `haproxy/compose.cfg`: the two nodes of `compose.yaml`.
 * After changing the template: `node --import tsx infra/deploy/haproxy/deploy-configs.ts` writes both
 * (tests/deploy/ fails while they differ from the template's rendering).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Scalar, parseDocument } from 'yaml';
import { renderHaproxyConfig, type HaproxyValues } from './render';

const DEPLOY = join(import.meta.dirname, '..');
export const KUBERNETES_HAPROXY_FILE = join(DEPLOY, 'kubernetes', 'haproxy-config.yaml');
export const COMPOSE_HAPROXY_FILE = join(DEPLOY, 'haproxy', 'compose.cfg');

export const KUBERNETES_MAX_NODES = 8;

export const kubernetesValues: HaproxyValues = {
  region: 'eu-west',
  bind: ':8080',
  operatorBind: ':8404',
  maxconn: 100_000,
  nodes: Array.from({ length: KUBERNETES_MAX_NODES }, (_, i) => ({
    id: `realtime-eu-west-${i}`,
    address: `realtime-eu-west-${i}.realtime-eu-west-nodes.realtime.svc.cluster.local:3000`,
  })),
};

export const composeValues: HaproxyValues = {
  region: 'eu-west',
  bind: ':8080',
  operatorBind: ':8404',
  maxconn: 20_000,
  nodes: ['eu-west-1', 'eu-west-2'].map((id) => ({ id, address: `${id}:3000` })),
};

/** Writes the rendered configurations into the deploy files. */
export function writeDeployConfigs(): void {
  writeFileSync(COMPOSE_HAPROXY_FILE, renderHaproxyConfig(composeValues));
  const doc = parseDocument(readFileSync(KUBERNETES_HAPROXY_FILE, 'utf8'));
  const config = doc.createNode(renderHaproxyConfig(kubernetesValues));
  config.type = Scalar.BLOCK_LITERAL;
  doc.setIn(['data', 'haproxy.cfg'], config);
  writeFileSync(KUBERNETES_HAPROXY_FILE, doc.toString({ lineWidth: 0 }));
}

if (process.argv[1] && import.meta.filename === process.argv[1]) writeDeployConfigs();
