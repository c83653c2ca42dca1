/** `npm run bench [-- --quick]`: progress on stderr, the markdown table on stdout. */
import { HELP, UsageError, parseBenchOptions, runBench } from './index';

let options;
try {
  options = parseBenchOptions(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof UsageError)) throw err;
  console.error(`bench: ${err.message}\n\n${HELP}`);
  process.exit(2);
}
if (options === 'help') {
  process.stdout.write(HELP);
  process.exit(0);
}

const started = Date.now();
const say = (line: string) =>
  console.error(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);

// A hard ceiling, so a stuck scenario cannot keep the machine busy: full runs ~20 min, quick ~1.
const ceilingMs = options.mode === 'quick' ? 5 * 60_000 : 35 * 60_000;
const ceiling = setTimeout(() => {
  console.error(`bench: still running after ${ceilingMs / 60_000} min; giving up`);
  process.exit(1);
}, ceilingMs);
ceiling.unref();

let stopRun: (() => Promise<void>) | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping`);
    void (stopRun?.() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

try {
  const out = await runBench(options, say, (stop) => (stopRun = stop));
  process.stdout.write(`${out.markdown}\n`);
  say(`wrote ${out.jsonPath} and ${out.markdownPath}`);
  process.exit(0);
} catch (err) {
  console.error(`bench failed: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
}
