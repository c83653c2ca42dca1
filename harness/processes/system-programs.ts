import { execFileSync, spawnSync } from 'node:child_process';

function onPath(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Makes sure a Debian package's program is installed. As root it installs the package with apt-get
 * (saying so in one line); otherwise it throws with the exact command to run.
 */
export function ensureProgram(program: string, debianPackage: string, why: string): void {
  if (onPath(program)) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    throw new Error(
      `${program} is missing (${why}); install it with: sudo apt-get install -y ${debianPackage}`,
    );
  }
  console.error(`installing ${debianPackage} with apt-get (${why})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
  execFileSync('apt-get', ['install', '-y', '-qq', debianPackage], { stdio: 'ignore', env });
  if (!onPath(program)) throw new Error(`apt-get installed ${debianPackage} but ${program} is still missing`);
}

export function ensureRedisServer(): void {
  ensureProgram('redis-server', 'redis-server', 'the regional and global Redis servers');
  // Debian's redis-server depends on redis-tools, which has redis-cli; a Redis built elsewhere may not.
  ensureProgram('redis-cli', 'redis-tools', 'creating the local Redis Cluster (redis-cli --cluster create)');
}

/** Debian's HAProxy: each region's load balancer in the simulation and in the deploy files. */
export function ensureHaproxy(): void {
  ensureProgram('haproxy', 'haproxy', "each region's load balancer");
}

/** promtool (Debian's prometheus package): checks and unit-tests the alerting rules. */
export function ensurePromtool(): void {
  ensureProgram('promtool', 'prometheus', 'the tests of the alerting rules');
}

/** Debian's chromium, which the browser test drives with playwright-core (/usr/bin/chromium). */
export function ensureChromium(): void {
  ensureProgram('chromium', 'chromium', 'the browser test of the demo page');
}
