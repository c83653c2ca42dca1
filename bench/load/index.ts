import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { LoadReply, LoadRequest, LoadResults, LoadTask } from './protocol';

export type * from './protocol';

/** The load process (load/main.ts) as the bench drives it: one task at a time or several at once. */
export interface LoadProcess {
  readonly pid: number;
  run<T extends LoadTask>(task: T): Promise<LoadResults[T['kind']]>;
  stop(): Promise<void>;
}

/** Forks the load process; clients sign their tokens with `jwtSecret`. */
export function startLoadProcess(jwtSecret: string): LoadProcess {
  const child: ChildProcess = fork(join(import.meta.dirname, 'main.ts'), [], {
    execArgv: ['--import', 'tsx', '--max-old-space-size=4096'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  child.on('message', (reply: LoadReply) => {
    const waiter = pending.get(reply.id);
    pending.delete(reply.id);
    if ('error' in reply) waiter?.reject(new Error(`load process: ${reply.error}`));
    else waiter?.resolve(reply.result);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => {
    for (const w of pending.values()) w.reject(new Error('load process exited'));
    pending.clear();
  });
  child.send({ jwtSecret });
  return {
    pid: child.pid!,
    run<T extends LoadTask>(task: T) {
      const id = nextId++;
      return new Promise<LoadResults[T['kind']]>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, task } satisfies LoadRequest);
      });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.disconnect();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
