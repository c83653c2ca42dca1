import { vi } from 'vitest';

/** Waits (polling every 5 ms) until `condition` holds; fails naming `what`. For in-process tests. */
export const until = (condition: () => boolean | Promise<boolean>, what: string, timeout = 3_000) =>
  vi.waitFor(
    async () => {
      // A throw, not a discarded rejection, is what makes waitFor poll again.
      if (!(await condition())) throw new Error(`not yet: ${what}`);
    },
    { timeout, interval: 5 },
  );
