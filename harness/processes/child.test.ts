import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive as alive, startServerProcess } from './child';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rt-child-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('a server process started by the simulation', () => {
  it('keeps what is written after the child exited in its log, without writing after the log is closed', async () => {
    // A server's own children (PostgreSQL's backends, a shell's pipeline) share its output pipes and
    // can still write after it exited. The old code closed the log on 'exit' and then crashed the
    // whole simulation with ERR_STREAM_WRITE_AFTER_END on the next write.
    for (let i = 0; i < 3; i++) {
      const logFile = join(dir, `child-${i}.log`);
      const proc = startServerProcess('sh', ['-c', 'echo first; (sleep 0.2; echo last words) & exit 0'], {
        logFile,
      });
      await proc.exited;
      await expect.poll(() => readFile(logFile, 'utf8'), { timeout: 5_000 }).toBe('first\nlast words\n');
    }
  });

  it('is stopped even when the process that started it is killed outright', async () => {
    // A parent that starts a server and is then SIGKILLed: no exit handler of its own can run.
    const script = `
      import { startServerProcess } from ${JSON.stringify(join(import.meta.dirname, 'child.ts'))};
      const proc = startServerProcess('sleep', ['300']);
      console.log(proc.pid);
    `;
    const parent = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pid = await new Promise<number>((resolve) =>
      parent.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
    );
    expect(alive(pid)).toBe(true);
    parent.kill('SIGKILL');
    await expect.poll(() => alive(pid), { timeout: 10_000 }).toBe(false);
  });
});
