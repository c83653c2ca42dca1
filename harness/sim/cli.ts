/**
 * `npm start`: the whole multi-region platform on this machine (see `npm start -- --help`).
 * Ctrl-C or SIGTERM stops every process it started.
 */
import { HELP, UsageError, parseSimOptions } from './options';
import { killAllServerProcesses } from '../processes/child';
import { startControlServer } from './control';
import { startPlatform, type Platform } from './platform';

/** Longest a shutdown may take: region nodes drain for 2 s, every other step is quicker. */
const SHUTDOWN_DEADLINE_MS = 10_000;

let options;
try {
  options = parseSimOptions(process.argv.slice(2), process.env);
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  console.error(`npm start: ${err.message} (see npm start -- --help)`);
  process.exit(2);
}
if (options === 'help') {
  process.stdout.write(HELP);
  process.exit(0);
}

const say = (line: string) => console.log(`[sim] ${line}`);
let platform: Platform | undefined;
// Set once ready; the shutdown closes it first, so no restart starts while we stop.
let control: { close(): Promise<void> } | undefined = undefined;
let stopping = false;

async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  say(`${signal}: stopping everything ...`);
  const began = Date.now();
  setTimeout(() => {
    console.error(`[sim] still stopping after ${SHUTDOWN_DEADLINE_MS} ms: killing what is left`);
    killAllServerProcesses();
    process.exit(1);
  }, SHUTDOWN_DEADLINE_MS).unref();
  await control?.close();
  await platform?.stop();
  say(`stopped everything in ${((Date.now() - began) / 1000).toFixed(1)} s`);
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGHUP', () => void shutdown('SIGHUP'));
// If whatever started us (npm, a terminal) is gone without a signal, we are re-parented: stop too.
const parent = process.ppid;
setInterval(() => process.ppid !== parent && void shutdown('parent exited'), 1_000).unref();

say(
  `starting ${options.regions.length} regions x ${options.nodesPerRegion} nodes (logs in ${options.dir}/logs) ...`,
);
try {
  platform = await startPlatform(options, say);
} catch (err) {
  console.error(`[sim] start-up failed: ${(err as Error).message}`);
  process.exit(1);
}
if (stopping) await new Promise(() => undefined); // a signal arrived during start-up; shutdown exits

const { state } = platform;
// Without the control socket (a --dir path too long for a Unix socket, say) only restarts are missing.
control = await startControlServer(platform, options.dir, say).catch((err: Error) => {
  console.error(`[sim] no control socket, so no npm run sim -- restart: ${err.message}`);
  return undefined;
});
platform.onUnexpectedExit((what) => console.error(`[sim] ${what}`));
say(
  'WAN one-way delays (ms): ' +
    (state.wan.enabled
      ? Object.entries(state.wan.oneWayMs)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')
      : 'off'),
);
console.log('');
console.log(`  edge (open this)   ${state.edge}`);
for (const region of state.regions) {
  console.log(
    `  ${region.id.padEnd(18)} ${region.url}  nodes ${region.nodes.map((n) => `${n.id}=${n.url}`).join(' ')}`,
  );
}
console.log(
  `  postgres primary   ${state.postgres.primary.region}, replicas in ${state.postgres.replicas.map((r) => r.region).join(', ') || 'none'}`,
);
console.log(`  state              ${options.dir}/state.json`);
const dirOption = options.dir === '.sim' ? '' : ` --dir ${options.dir}`;
if (control)
  console.log(
    `  rolling restart    npm run sim -- restart ${state.regions[0]!.id}${dirOption}   (one node at a time)`,
  );
console.log('');
say(`ready in ${(state.startupMs / 1000).toFixed(1)} s. Ctrl-C stops everything.`);
