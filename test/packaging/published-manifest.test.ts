// What `pnpm pack` publishes: every export target and the licence are in the tarball, and the workspace-only
// `@keybrake/source` condition (TypeScript sources, not shipped) never reaches a user.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
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

describe('the published packages', () => {
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
