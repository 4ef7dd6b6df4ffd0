import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Every file below `dir` (sorted, depth first) whose path `keep` accepts. */
export function filesUnder(dir: string, keep: (file: string) => boolean = () => true): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const full = path.join(dir, name);
      return statSync(full).isDirectory() ? filesUnder(full, keep) : keep(full) ? [full] : [];
    });
}
