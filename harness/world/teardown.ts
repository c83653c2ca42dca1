/**
 * Everything a local world started, stopped newest first: the one cleanup idiom of the simulation,
 * the bench and the tests. Each step is named, so a shutdown can say what it stopped and how long
 * it took; a step that fails is reported and does not keep the others from running.
 */
export class Teardown implements AsyncDisposable {
  readonly #steps: { what: string | (() => string); stop: () => Promise<unknown> }[] = [];

  /** Runs `stop` at teardown, before everything deferred earlier; `what` names it in the report. */
  defer(what: string | (() => string), stop: () => Promise<unknown>): void {
    this.#steps.push({ what, stop });
  }

  /** Defers `thing.stop()` and returns `thing`. */
  track<T extends { stop(): Promise<unknown> }>(thing: T, what: string | (() => string) = 'a process'): T {
    this.defer(what, () => thing.stop());
    return thing;
  }

  /**
   * Runs every deferred step, newest first. `report` hears one line per step (`stopped WHAT (N ms)`)
   * and each failure; without it, failures go to stderr. Safe to call again: steps run once.
   */
  async stop(report?: (line: string) => void): Promise<void> {
    for (const step of this.#steps.splice(0).reverse()) {
      const began = Date.now();
      const what = () => (typeof step.what === 'string' ? step.what : step.what());
      try {
        await step.stop();
        report?.(`stopped ${what()} (${Date.now() - began} ms)`);
      } catch (err) {
        const line = `stopping ${what()} failed: ${(err as Error).message}`;
        if (report) report(line);
        else console.error(line);
      }
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
