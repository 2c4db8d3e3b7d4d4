import { readFileSync } from 'node:fs';
import { defineConfig, type UserConfig } from 'tsdown';

/**
 * The build every published package shares: ESM + `.d.ts` from `src/index.ts` for Node 22+, with
 * the package's version injected as `__KEYBRAKE_VERSION__` (never hard-coded).
 */
export function definePackageConfig(packageDir: URL, overrides: UserConfig = {}) {
  const { version } = JSON.parse(readFileSync(new URL('package.json', packageDir), 'utf8')) as { version: string };
  return defineConfig({
    entry: ['src/index.ts'],
    format: 'esm',
    dts: true,
    clean: true,
    platform: 'node',
    target: 'node22',
    define: { __KEYBRAKE_VERSION__: JSON.stringify(version) },
    ...overrides,
  });
}
