import pino, { type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout, one object per line, tagged with region and node. */
export function createLogger(level: string, bindings: { region: string; node: string }): Logger {
  return pino({ level, base: bindings, timestamp: pino.stdTimeFunctions.isoTime });
}
