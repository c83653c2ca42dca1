import { createServer, request, type Server } from 'node:http';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Platform } from './platform';

/** Where a running `npm start` listens for `npm run sim -- ...` (a Unix socket in its --dir). */
export function controlSocketPath(dir: string): string {
  return join(dir, 'control.sock');
}

/**
 * The running simulation's control socket: `POST /restart/REGION` runs a rolling restart and streams
 * its progress, one line per step, ending with `done ...` or `failed: ...`.
 */
export async function startControlServer(
  platform: Platform,
  dir: string,
  say: (line: string) => void,
): Promise<{ close(): Promise<void> }> {
  const path = controlSocketPath(dir);
  await rm(path, { force: true });
  const server: Server = createServer((req, res) => {
    const restart = /^\/restart\/([a-z0-9-]+)$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !restart) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('unknown command\n');
      return;
    }
    const region = restart[1]!;
    res.writeHead(200, { 'content-type': 'text/plain' });
    const report = (line: string) => {
      say(`restart ${region}: ${line}`);
      res.write(`${line}\n`);
    };
    report('rolling restart: one node at a time');
    platform.restartRegion(region, report).then(
      ({ ms }) => res.end(`done: every node of ${region} replaced in ${(ms / 1000).toFixed(1)} s\n`),
      (err: Error) => {
        say(`restart ${region} failed: ${err.message}`);
        res.end(`failed: ${err.message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => void rm(path, { force: true }).then(() => resolve()));
      }),
  };
}

/** Sends one command to the simulation running with `dir`; each line of its answer goes to `onLine`. */
export function sendControlCommand(dir: string, path: string, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: controlSocketPath(dir), path, method: 'POST' }, (res) => {
      let rest = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop()!;
        for (const line of lines) onLine(line);
      });
      res.on('end', () => {
        if (rest) onLine(rest);
        if (res.statusCode === 200) resolve();
        else reject(new Error(`the simulation answered ${res.statusCode}`));
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT' || err.code === 'ECONNREFUSED'
          ? new Error(`no simulation is running with --dir ${dir} (start it with npm start)`)
          : err,
      ),
    );
    req.end();
  });
}
