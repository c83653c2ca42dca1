/**
 * Preloaded into benchmark region nodes only (with `--expose-gc`): SIGUSR2 runs a full garbage
 * collection, so the memory scenario reads a settled heap instead of whatever the last minor GC left.
 */
process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
});
