/**
 * Renders infra/deploy/haproxy/haproxy.cfg.template for one region: `npm start` uses it for each
 * region, and the Kubernetes ConfigMap is this function's output for the cluster's node names.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const HAPROXY_TEMPLATE = join(import.meta.dirname, 'haproxy.cfg.template');

export interface HaproxyValues {
  region: string;
  /** Where clients (the edge) connect, e.g. `127.0.0.1:8080` or `:8080`. */
  bind: string;
  /** Where HAProxy's Prometheus endpoint (`/metrics`) and status page (`/stats`) listen. */
  operatorBind: string;
  maxconn: number;
  /** Each node's NODE_ID and `host:port`. */
  nodes: { id: string; address: string }[];
}

export function renderHaproxyConfig(
  values: HaproxyValues,
  template = readFileSync(HAPROXY_TEMPLATE, 'utf8'),
) {
  const scalars: Record<string, string> = {
    region: values.region,
    bind: values.bind,
    operator_bind: values.operatorBind,
    maxconn: String(values.maxconn),
  };
  const fill = (line: string, extra: Record<string, string> = {}) =>
    line.replace(/\{\{([a-z_.]+)\}\}/g, (_, name: string) => {
      const value = extra[name] ?? scalars[name];
      if (value === undefined) throw new Error(`haproxy template: no value for {{${name}}}`);
      return value;
    });
  return template
    .split('\n')
    .flatMap((line) =>
      /\{\{node\./.test(line)
        ? values.nodes.map((node) => fill(line, { 'node.id': node.id, 'node.address': node.address }))
        : [fill(line)],
    )
    .join('\n');
}
