import { execFileSync } from 'node:child_process';
import type { LocalPostgresServer } from '../../../harness/processes/postgres';

/** The postmaster's children (backends, WAL sender/receiver, checkpointer, ...), by `pgrep -P`. */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
}

/**
 * Freezes a PostgreSQL server the way a hung host or a partition does: SIGSTOP to the postmaster
 * (first, so it forks nothing more) and to every one of its processes. Connections stay open and
 * nothing answers. Returns the thaw, which SIGCONTs them all.
 */
export function freezePostgres(server: LocalPostgresServer): () => void {
  const postmaster = server.pid;
  process.kill(postmaster, 'SIGSTOP');
  const stopped = [postmaster, ...childrenOf(postmaster)];
  for (const pid of stopped.slice(1)) process.kill(pid, 'SIGSTOP');
  let thawed = false;
  return () => {
    if (thawed) return;
    thawed = true;
    for (const pid of stopped.reverse()) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // a backend that was killed meanwhile
      }
    }
  };
}
