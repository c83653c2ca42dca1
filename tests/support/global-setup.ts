import { ensureRedisServer } from '../../infra/local/system-programs';

/** Runs once before the suite: system programs the integration tests need. */
export default function setup(): void {
  ensureRedisServer();
}
