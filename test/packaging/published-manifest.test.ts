// What `pnpm pack` publishes: every export target and the licence are in the tarball, and the workspace-only
// `@keybrake/source` condition (TypeScript sources, not shipped) never reaches a user.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PACKAGES = readdirSync(join(ROOT, 'packages'));
const destination = mkdtempSync(join(tmpdir(), 'keybrake-pack-'));
afterAll(() => rmSync(destination, { recursive: true, force: true }));

/** Every string target in an `exports` map. */
function targets(exports: unknown): string[] {
  if (typeof exports === 'string') return [exports];
  if (typeof exports !== 'object' || exports === null) return [];
  return Object.values(exports).flatMap(targets);
}

/** The lowest Node version an `engines.node` range admits: its first `x.y.z` (`>=22.19.0`, `^22.12.0 || ^24`). */
function nodeFloor(range: string): number[] {
  const [, major = '0', minor = '0', patch = '0'] = /(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(range) ?? [];
  return [Number(major), Number(minor), Number(patch)];
}
const atLeast = (a: number[], b: number[]) => {
  const index = a.findIndex((part, at) => part !== b[at]);
  return index === -1 || (a[index] ?? 0) > (b[index] ?? 0);
};

describe('the published packages', () => {
  it.each(PACKAGES)('should ask @keybrake/%s users for a Node its runtime dependencies load on', (name) => {
    const read = (path: string) => JSON.parse(readFileSync(path, 'utf8'));
    const manifest = read(join(ROOT, 'packages', name, 'package.json'));
    const ours = nodeFloor(manifest.engines.node);
    const lower = Object.keys(manifest.dependencies ?? {}).flatMap((dependency) => {
      const path = join(ROOT, 'packages', name, 'node_modules', dependency, 'package.json');
      const theirs = existsSync(path) ? read(path).engines?.node : undefined;
      return typeof theirs === 'string' && !atLeast(ours, nodeFloor(theirs)) ? [`${dependency} needs ${theirs}`] : [];
    });
    // undici 8 crashes at load on Node 22 before 22.15 and declares 22.19.
    expect(lower, `engines.node ${manifest.engines.node}`).toEqual([]);
  });

  it.each(PACKAGES)('should publish @keybrake/%s with only export targets it ships', (name) => {
    const output = execFileSync('pnpm', ['pack', '--pack-destination', destination], {
      cwd: join(ROOT, 'packages', name),
      encoding: 'utf8',
    });
    const tarball = output.trim().split('\n').at(-1) ?? '';
    const files = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n');
    const manifest = JSON.parse(execFileSync('tar', ['xzfO', tarball, 'package/package.json'], { encoding: 'utf8' }));
    expect(JSON.stringify(manifest)).not.toContain('workspace:');
    expect(JSON.stringify(manifest.exports)).not.toContain('@keybrake/source');
    const missing = targets(manifest.exports).filter((target) => !files.includes(`package/${target.slice(2)}`));
    expect(missing).toEqual([]);
    // MIT asks for the notice to ship with every copy.
    expect(files).toContain('package/LICENSE');
  });
});
