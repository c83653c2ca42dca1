import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/**
 * The project's import graph as the code states it: every `import` and `export ... from` with a
 * relative specifier (type-only ones too), each resolved to the project file it names.
 */
export class ImportGraph {
  private readonly edges = new Map<string, string[]>();

  constructor(private readonly root: string) {}

  /** The project files `file` imports (paths from the project root). */
  importsOf(file: string): string[] {
    let found = this.edges.get(file);
    if (!found) {
      const text = readFileSync(join(this.root, file), 'utf8');
      found = ts
        .preProcessFile(text, true, false)
        .importedFiles.map((imported) => imported.fileName)
        .filter((specifier) => specifier.startsWith('.'))
        .map((specifier) => this.resolveSpecifier(file, specifier));
      this.edges.set(file, found);
    }
    return found;
  }

  /**
   * One shortest chain of imports from `from` to `to` (both ends included; `from` = `to` finds a
   * cycle through `from`), or undefined when `from` does not reach `to`.
   */
  chain(from: string, to: string): string[] | undefined {
    /** Each file reached, with the file it was reached from. */
    const previous = new Map<string, string>();
    const pending = [from];
    while (pending.length > 0) {
      const current = pending.shift()!;
      for (const next of this.importsOf(current)) {
        if (next === to) {
          const path = [current, to];
          while (path[0] !== from) path.unshift(previous.get(path[0]!)!);
          return path;
        }
        if (previous.has(next) || next === from) continue;
        previous.set(next, current);
        pending.push(next);
      }
    }
    return undefined;
  }

  private resolveSpecifier(file: string, specifier: string): string {
    const base = resolve(this.root, dirname(file), specifier);
    // A generated module (not committed) is known by the declaration file committed beside it.
    const candidates = [
      base.replace(/\.js$/, '.ts'),
      `${base}.ts`,
      join(base, 'index.ts'),
      base.replace(/\.js$/, '.d.ts'),
    ];
    const found = candidates.find((candidate) => candidate.endsWith('.ts') && existsSync(candidate));
    if (!found) throw new Error(`${file}: cannot resolve import "${specifier}"`);
    return relative(this.root, found);
  }
}
