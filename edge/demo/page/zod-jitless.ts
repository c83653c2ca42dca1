/**
 * Imported first by main.ts, before any schema exists: zod's fast path probes `new Function`,
 * which the page's Content-Security-Policy (no 'unsafe-eval') reports as a violation in the console.
 * `jitless` skips the probe (the shared schemas come with the SDK).
 */
import { z } from 'zod';

z.config({ jitless: true });
