/**
 * `npm run bench -- --quick` as a smoke test: the benchmark starts the three systems (ours and the
 * two plain Socket.IO peers), runs every scenario and reports (the markdown tables on stdout, the
 * JSON under --out). It asserts that the report is complete, never what a figure is: timings on a
 * shared test machine mean nothing.
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
  it(
    'runs every scenario on ours, seeds and streams and reports tables and JSON',
    { timeout: 300_000 },
    async () => {
      outDir = await mkdtemp(join(tmpdir(), 'rt-bench-test-'));
      const run = await runQuickBench(outDir);
      expect(run.code, run.stderr.slice(-3000)).toBe(0);

      for (const heading of ['## 1.', '## 2.', '## 3.', '## 4.', '## 5.', '## 6.', '## 7.', '## 8.', '## 9.'])
        expect(run.stdout).toContain(heading);
      expect(run.stdout).toContain('## In plain words');
      expect(run.stderr).toContain('scenario 3: memory per idle connection');

      const files = await readdir(outDir);
      expect(files).toContain('latest-quick.md');
      const json = files.find((f) => f.endsWith('-quick.json'));
      expect(json).toBeDefined();
      const result = JSON.parse(await readFile(join(outDir, json!), 'utf8')) as BenchResult;

      expect(result.mode).toBe('quick');
      expect(result.machine.cores).toBeGreaterThan(0);
      expect(result.versions['socket.io']).toMatch(/^\d/);
      const systems = ['ours', 'seeds', 'streams'] as const;
      const {
        latency,
        fanout,
        memory,
        handshake,
        wanOverhead,
        saturation,
        hostile,
        presence,
        footprint,
        cluster,
      } = result.scenarios;
      const regular = latency.filter((p) => !p.ephemeral);
      expect(regular.map((p) => p.kind)).toEqual(
        expect.arrayContaining(['same node', 'across nodes', 'across regions']),
      );
      for (const p of regular) {
        expect(Object.keys(p.figures).sort()).toEqual([...systems]);
        for (const name of systems) expect(p.figures[name].samples).toBeGreaterThan(0);
      }
      // The ephemeral rows: measured, or the build's refusal named.
      const ephemeral = latency.filter((p) => p.ephemeral);
      expect(ephemeral.length).toBeGreaterThan(0);
      for (const p of ephemeral) {
        for (const name of systems)
          expect(p.figures[name].samples > 0 || typeof p.figures[name].refused === 'string').toBe(true);
      }
      expect(fanout.map((f) => f.roomSize)).toEqual([10, 100, 1000]);
      for (const f of fanout) {
        for (const name of systems) expect(f.deliveriesPerSecond[name].runs.length).toBeGreaterThan(0);
      }
      expect(memory).toHaveLength(3);
      for (const m of memory) {
        for (const name of systems) expect(Number.isFinite(m.heapKiBPerConnection[name].median)).toBe(true);
      }
      expect(handshake.length).toBeGreaterThan(0);
      for (const h of handshake) expect(Object.keys(h.p50)).toHaveLength(5);
      expect(wanOverhead.length).toBeGreaterThan(0);
      for (const w of wanOverhead) expect(w.wanMs).toBeGreaterThan(0);
      expect(saturation).toHaveLength(1);
      for (const name of systems) expect(saturation[0]!.steps[name].length).toBeGreaterThan(0);
      expect(hostile).toHaveLength(1);
      for (const name of systems) expect(Number.isFinite(hostile[0]!.quietP99[name].median)).toBe(true);
      expect(presence).toHaveLength(1);
      for (const name of systems) expect(Number.isFinite(presence[0]!.fullRoomP50[name].median)).toBe(true);
      // Footprint is ours alone: every envelope accepted reached Postgres, and every Redis was read.
      expect(footprint).toHaveLength(1);
      expect(footprint[0]!.envelopes).toBeGreaterThan(0);
      expect(footprint[0]!.rowsMatchAccepted).toBe(true);
      expect(footprint[0]!.redis.map((x) => x.redis)).toEqual(expect.arrayContaining(['global', 'us-east']));
      // Our region on one Redis and on a Redis Cluster, each measured.
      expect(cluster.map((c) => c.kind)).toEqual(['single', 'cluster']);
      for (const c of cluster) expect(Number.isFinite(c.acrossNodesP50.median)).toBe(true);
      expect(run.stdout).toContain('## 10.');
    },
  );
});
