import { parseArgs, type ParseArgsConfig } from 'node:util';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** A command line the user got wrong: the CLIs print its one-line message, then their help. */
export class UsageError extends Error {}

/** `node:util` parseArgs, strict, its own errors thrown as a `UsageError` (for `npm start` and the bench). */
export function parseCliArgs<const O extends OptionsConfig>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
