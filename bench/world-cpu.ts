/**
 * CPU time of the processes of a local world, read from /proc/<pid>/stat: every process below this
 * one, labelled by what it is in the world, and this process (the harness: the WAN relays).
 */
import { readFileSync, readdirSync } from 'node:fs';
import type { LocalWorld } from '../harness/world/world';
import type { LoadProcess } from './load';

/** The kernel's clock ticks per second (USER_HZ) that /proc/<pid>/stat counts CPU time in. */
export const CLOCK_TICKS_PER_S = 100;

interface Sample {
  label: string;
  ticks: number;
}

/** The fields of /proc/<pid>/stat after the command name, or undefined once the process is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function processTicks(pid: number): number | undefined {
  const fields = statFields(pid);
  return fields && Number(fields[11]) + Number(fields[12]);
}

function childrenOf(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const fields = statFields(pid);
    if (!fields) continue; // gone meanwhile
    const ppid = Number(fields[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  }
  return children;
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '?';
  }
}

/** Every process below this one, named by what it is in the world; the load process left out. */
export function labelled(world: LocalWorld, load: LoadProcess): Map<number, string> {
  const named = new Map<number, string>();
  for (const region of world.regions) {
    region.nodes.forEach((node) => named.set(node.pid, `node ${node.id}`));
    if (region.redis.server) named.set(region.redis.server.pid, `redis ${region.id}`);
  }
  named.set(world.globalRedis.pid, 'redis global');
  if (world.postgres) {
    named.set(world.postgres.primary.pid, 'postgres primary');
    world.postgres.replicas.forEach((replica, i) => named.set(replica.pid, `postgres replica ${i + 1}`));
  }
  const children = childrenOf();
  const labels = new Map<number, string>();
  const visit = (pid: number, inherited: string | undefined) => {
    if (pid === load.pid) return;
    const own = named.get(pid);
    const label = own ?? (inherited || commandOf(pid).slice(0, 60));
    labels.set(pid, label);
    for (const child of children.get(pid) ?? []) visit(child, own ?? inherited);
  };
  for (const child of children.get(process.pid) ?? []) visit(child, undefined);
  return labels;
}

function sample(labels: Map<number, string>): Sample[] {
  const samples: Sample[] = [];
  for (const [pid, label] of labels) {
    const ticks = processTicks(pid);
    if (ticks !== undefined) samples.push({ label, ticks });
  }
  const self = process.cpuUsage();
  samples.push({
    label: 'harness (WAN relays)',
    ticks: ((self.user + self.system) / 1e6) * CLOCK_TICKS_PER_S,
  });
  return samples;
}

/** CPU ticks (user + system) spent so far by every labelled process, summed per label, and this process's. */
export function ticksByLabel(labels: Map<number, string>): Map<string, number> {
  const samples = sample(labels);
  const sums = new Map<string, number>();
  for (const s of samples) sums.set(s.label, (sums.get(s.label) ?? 0) + s.ticks);
  return sums;
}
