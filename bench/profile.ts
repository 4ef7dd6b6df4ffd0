import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Summaries of the servers' CPU profiles (`--profile DIR`): each server runs
 * under `node --cpu-prof --cpu-prof-dir=DIR/<variant>` and writes its profile
 * when it exits; this reads it and writes DIR/<variant>.txt.
 *
 * Only samples taken during the variant's measured runs count: start-up
 * (module loading, Nest's bootstrap), warm-up and the minutes the server
 * waits while other variants run would otherwise crowd the top of the list.
 * Percentages are of the non-idle samples ("(idle)" is the event loop waiting),
 * so they say where the CPU time of serving went.
 */

/** A measured run: [start, end] in microseconds of the monotonic clock (process.hrtime), as the profile's timestamps. */
export type Window = [number, number];

export const nowMicros = (): number => Number(process.hrtime.bigint() / 1000n);

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const TOP_SELF = 40;
const TOP_INCLUSIVE = 60;
const TOP_PACKAGES = 20;

/** The profile node writes for process `pid` in `dir` (its file name carries the pid). */
export function findProfile(dir: string, pid: number): string | undefined {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return undefined;
  }
  const file = files.find((name) => name.endsWith('.cpuprofile') && name.split('.').includes(String(pid)));
  return file && path.join(dir, file);
}

/** Where a function lives: its package (node_modules/<pkg>) or the app's file, and a group for the per-package table. */
function placeOf(frame: CallFrame, root: string): { group: string; location: string } {
  const { url } = frame;
  const line = frame.lineNumber >= 0 ? `:${frame.lineNumber + 1}` : '';
  if (!url) return { group: frame.functionName.startsWith('(') ? frame.functionName : '(native)', location: '' };
  if (url.startsWith('node:')) return { group: 'node (built-in modules)', location: `${url}${line}` };
  const file = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  const inModules = file.lastIndexOf('/node_modules/');
  if (inModules >= 0) {
    const rest = file.slice(inModules + '/node_modules/'.length);
    const parts = rest.split('/');
    const pkg = parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
    return { group: pkg, location: `${rest}${line}` };
  }
  const relative = path.relative(root, file);
  if (relative.startsWith('..')) return { group: file, location: `${file}${line}` };
  // The app by folder (dist/documents, dist/admission, bench/dist ...).
  const parts = relative.split(path.sep);
  return { group: parts.slice(0, parts.length > 2 ? 2 : 1).join('/'), location: `${relative}${line}` };
}

const pct = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1).padStart(5)}%`;
const ms = (micros: number) => (micros / 1000).toFixed(1).padStart(8);

/**
 * The text summary of one profile: the top functions by self time and by
 * inclusive time (a function counted once per sample however deep it recurses),
 * and self time by package, over the samples inside `windows`.
 */
export function summariseProfile(file: string, windows: Window[], title: string, root: string): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  // Sample i was taken at startTime + the sum of the deltas up to i, and stands for the time until the next one.
  const selfByNode = new Map<number, number>();
  let at = profile.startTime;
  const times = profile.timeDeltas.map((delta) => (at += delta));
  let idle = 0;
  let inWindows = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const t = times[i];
    if (!windows.some(([start, end]) => t >= start && t < end)) continue;
    const duration = (i + 1 < times.length ? times[i + 1] : profile.endTime) - t;
    const node = byId.get(profile.samples[i])!;
    inWindows += duration;
    if (node.callFrame.functionName === '(idle)') idle += duration;
    else selfByNode.set(node.id, (selfByNode.get(node.id) ?? 0) + duration);
  }
  const busy = inWindows - idle;
  const windowSeconds = windows.reduce((sum, [start, end]) => sum + (end - start), 0) / 1e6;
  const header = [
    title,
    `profile: ${file}`,
    `${windows.length} measured run(s), ${windowSeconds.toFixed(1)} s: ${(busy / 1000).toFixed(0)} ms non-idle CPU on the main thread ` +
      `(${(idle / 1000).toFixed(0)} ms idle excluded). Percentages are of the non-idle time.`,
    '',
  ];
  if (busy <= 0) return [...header, 'No non-idle samples fell inside the measured runs.', ''].join('\n');

  const keyOf = (frame: CallFrame) => `${frame.functionName}\u0000${frame.url}\u0000${frame.lineNumber}\u0000${frame.columnNumber}`;
  const functions = new Map<string, { frame: CallFrame; self: number; total: number }>();
  const entry = (frame: CallFrame) => {
    const key = keyOf(frame);
    let found = functions.get(key);
    if (!found) functions.set(key, (found = { frame, self: 0, total: 0 }));
    return found;
  };
  const groups = new Map<string, number>();
  for (const [id, self] of selfByNode) {
    const frame = byId.get(id)!.callFrame;
    entry(frame).self += self;
    const { group } = placeOf(frame, root);
    groups.set(group, (groups.get(group) ?? 0) + self);
    const seen = new Set<string>();
    for (let node: number | undefined = id; node !== undefined; node = parent.get(node)) {
      const callFrame = byId.get(node)!.callFrame;
      if (callFrame.functionName === '(root)') continue;
      const key = keyOf(callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      entry(callFrame).total += self;
    }
  }

  const name = (frame: CallFrame) => frame.functionName || '(anonymous)';
  const all = [...functions.values()];
  const lines = [...header, `Top ${TOP_SELF} functions by self time`, '  self%   self ms  function  (where)'];
  for (const f of [...all].sort((a, b) => b.self - a.self).slice(0, TOP_SELF)) {
    lines.push(`  ${pct(f.self, busy)}  ${ms(f.self)}  ${name(f.frame)}  ${placeOf(f.frame, root).location}`);
  }
  lines.push('', `Top ${TOP_INCLUSIVE} functions by inclusive time (self + callees)`, ' total%  total ms  function  (where)');
  for (const f of [...all].sort((a, b) => b.total - a.total).slice(0, TOP_INCLUSIVE)) {
    lines.push(`  ${pct(f.total, busy)}  ${ms(f.total)}  ${name(f.frame)}  ${placeOf(f.frame, root).location}`);
  }
  lines.push('', `Self time by package or app folder (top ${TOP_PACKAGES})`, '  self%   self ms  package');
  for (const [group, self] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, TOP_PACKAGES)) {
    lines.push(`  ${pct(self, busy)}  ${ms(self)}  ${group}`);
  }
  lines.push('');
  return lines.join('\n');
}
