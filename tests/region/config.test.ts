import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

const VALID = {
  REGION: 'eu-west',
  PORT: '0',
  REDIS_URL: 'redis://127.0.0.1:1',
  GLOBAL_REDIS_URL: 'redis://127.0.0.1:1',
  DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db',
  JWT_SECRET: 'a-secret-of-enough-length-for-hs256',
};

function runNode(env: Record<string, string | undefined>, args: string[] = []) {
  const clean = Object.fromEntries(
    Object.entries({ PATH: process.env.PATH, ...env }).filter(([, v]) => v !== undefined),
  );
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'regions', 'main.ts'), ...args], {
    env: clean as NodeJS.ProcessEnv,
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('npm run region: configuration', () => {
  it.each(['REGION', 'PORT', 'REDIS_URL', 'GLOBAL_REDIS_URL', 'DATABASE_URL', 'JWT_SECRET'])(
    'stops with exit code 2 and one line naming %s when it is missing',
    (variable) => {
      const result = runNode({ ...VALID, [variable]: undefined });
      expect(result.status).toBe(2);
      const alternatives = variable === 'JWT_SECRET' ? ' (or JWT_PUBLIC_KEY or JWT_JWKS_URL)' : '';
      expect(result.stderr.trim().split('\n')).toEqual([
        `config error: ${variable}: is required${alternatives}`,
      ]);
    },
  );

  it.each([
    ['PORT', 'eighty'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['REDIS_URL', 'redis+cluster://127.0.0.1'],
    ['GLOBAL_REDIS_URL', 'rediss+cluster://a:7000,b'],
    ['DATABASE_URL', 'mysql://x'],
    ['JWT_SECRET', 'short'],
    ['JWT_SECRET', 'x'.repeat(31)],
    ['JWT_PUBLIC_KEY', 'not a pem'],
    ['JWT_JWKS_URL', 'ftp://idp/keys'],
    ['TRUSTED_PROXIES', '10.0.0.0/33'],
    ['ALLOWED_ORIGINS', 'example.com'],
    ['METRICS_PORT', '70000'],
    ['REGION', 'EU West'],
    ['EDGE_SECRET', 'tiny'],
    ['MAX_PAYLOAD_BYTES', '-1'],
    ['SERVER_API_KEYS', `${'k'.repeat(40)},short-key`],
  ])('stops with exit code 2 naming %s when it is malformed', (variable, value) => {
    const result = runNode({ ...VALID, [variable]: value });
    expect(result.status).toBe(2);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^config error: ${variable}: is invalid`));
  });

  it('lists every variable with --help', () => {
    const result = runNode({}, ['--help']);
    expect(result.status).toBe(0);
    for (const name of [
      'REGION',
      'PORT',
      'NODE_ID',
      'REDIS_URL',
      'GLOBAL_REDIS_URL',
      'DATABASE_URL',
      'DATABASE_REPLICA_URL',
      'JWT_SECRET',
      'EDGE_SECRET',
    ]) {
      expect(result.stdout).toContain(name);
    }
  });
});
