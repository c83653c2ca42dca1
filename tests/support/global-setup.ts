import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  ensureChromium,
  ensureHaproxy,
  ensurePromtool,
  ensureRedisServer,
} from '../../harness/processes/system-programs';

const ROOT = join(import.meta.dirname, '..', '..');

/**
 * Runs once before the suite: system programs the integration tests need, and the demo page's
 * assets, which the edge app imports (wrangler builds them before every bundle; tests that import
 * the app directly need them too).
 */
export default function setup(): void {
  ensureRedisServer();
  ensureHaproxy();
  ensurePromtool();
  ensureChromium();
  execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'edge', 'demo', 'build.ts')], {
    cwd: ROOT,
    stdio: 'inherit',
  });
}
