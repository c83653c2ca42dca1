/**
 * `npm run region`: one region node from the environment (see README, "Running a region").
 * A missing or malformed variable stops the node with one line naming it and exit code 2.
 */
import { ConfigError, parseRegionConfig, regionEnvHelp } from './config';
import { createLogger } from './log';
import { startRegionNode } from './node';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(regionEnvHelp());
  process.exit(0);
}

let config;
try {
  config = parseRegionConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`config error: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

const log = createLogger(config.logLevel, { region: config.region, node: config.nodeId });
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection'));

const node = await startRegionNode(config, log);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    void node.drain(signal === 'SIGTERM' ? 'shutdown' : 'interrupted').then(() => process.exit(0));
  });
}
