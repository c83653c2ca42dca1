/**
 * `npm run sim -- COMMAND`: talks to the `npm start` running on this machine (through the control
 * socket in its --dir). Commands:
 *   restart REGION   rolling restart of every node of REGION, one at a time
 */
import { parseArgs } from 'node:util';
import { sendControlCommand } from './control';

const USAGE = `Usage: npm run sim -- restart REGION [--dir DIR]

  restart REGION   replace every node of REGION, one at a time (SIGTERM, drain, a new process,
                   ready, the next), while npm start runs; prints each step
  --dir DIR        the folder npm start was given (default .sim)
`;

let parsed;
try {
  parsed = parseArgs({
    args: process.argv.slice(2),
    options: { dir: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
} catch (err) {
  console.error(`npm run sim: ${(err as Error).message}\n\n${USAGE}`);
  process.exit(2);
}
const [command, region, ...extra] = parsed.positionals;
if (parsed.values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (command !== 'restart' || !region || extra.length > 0) {
  console.error(`npm run sim: expected "restart REGION"\n\n${USAGE}`);
  process.exit(2);
}

let failed = false;
try {
  await sendControlCommand(parsed.values.dir ?? '.sim', `/restart/${encodeURIComponent(region)}`, (line) => {
    if (line.startsWith('failed:')) failed = true;
    console.log(line);
  });
} catch (err) {
  console.error(`npm run sim: ${(err as Error).message}`);
  process.exit(1);
}
process.exit(failed ? 1 : 0);
