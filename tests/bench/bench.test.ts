/**
 * `npm run bench -- --quick` as a smoke test: the benchmark starts both platforms, runs every scenario
 * and reports (the markdown table on stdout, the JSON under --out). It asserts that the report is
 * complete, never what a figure is: timings on a shared test machine mean nothing.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResult } from '../../bench';

const ROOT = join(import.meta.dirname, '..', '..');
let outDir: string | undefined;

afterAll(async () => {
  if (outDir) await rm(outDir, { recursive: true, force: true });
});

function runQuickBench(out: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'bench', 'cli.ts'), '--quick', '--out', out],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('npm run bench -- --quick', () => {
  it('runs every scenario on both platforms and reports a table and JSON', { timeout: 300_000 }, async () => {
    outDir = await mkdtemp(join(tmpdir(), 'rt-bench-test-'));
    const run = await runQuickBench(outDir);
    expect(run.code, run.stderr.slice(-3000)).toBe(0);

    for (const heading of ['## 1.', '## 2.', '## 3.', '## 4.', '## 5.', '## In plain words'])
      expect(run.stdout).toContain(heading);
    expect(run.stderr).toContain('scenario 3: memory per idle connection');

    const files = await readdir(outDir);
    expect(files).toContain('latest-quick.md');
    const json = files.find((f) => f.endsWith('-quick.json'));
    expect(json).toBeDefined();
    const result = JSON.parse(await readFile(join(outDir, json!), 'utf8')) as BenchResult;

    expect(result.mode).toBe('quick');
    expect(result.machine.cores).toBeGreaterThan(0);
    expect(result.versions['socket.io']).toMatch(/^\d/);
    const { latency, fanout, memory, handshake, wanOverhead } = result.scenarios;
    expect(latency.map((p) => p.kind)).toEqual(
      expect.arrayContaining(['same node', 'across nodes', 'across regions']),
    );
    for (const p of latency) {
      for (const side of [p.figures.ours, p.figures.baseline]) expect(side.samples).toBeGreaterThan(0);
    }
    expect(fanout.map((f) => f.roomSize)).toEqual([10, 100, 1000]);
    for (const f of fanout) {
      expect(f.deliveriesPerSecond.ours.runs.length).toBeGreaterThan(0);
      expect(f.deliveriesPerSecond.baseline.runs.length).toBeGreaterThan(0);
    }
    expect(memory).toHaveLength(3);
    for (const m of memory) expect(Number.isFinite(m.rssMiB.ours.median)).toBe(true);
    expect(handshake.length).toBeGreaterThan(0);
    for (const h of handshake) expect(Object.keys(h.p50)).toHaveLength(4);
    expect(wanOverhead.length).toBeGreaterThan(0);
    for (const w of wanOverhead) expect(w.wanMs).toBeGreaterThan(0);
  });
});
