// The fakes are for any test runner: the package root must load without vitest, which only the
// conformance suites (`@keybrake/testkit/conformance`) need.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
/** A module hook that fails any import of vitest. */
const NO_VITEST = `data:text/javascript,export async function resolve(specifier, context, next) {
  if (specifier === 'vitest' || specifier.startsWith('vitest/')) throw new Error('vitest was imported');
  return next(specifier, context);
}`;

const importWithoutVitest = (specifier: string, use: string) =>
  execFileSync(
    process.execPath,
    [
      '--conditions=@keybrake/source',
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `import { register } from 'node:module';
       register(${JSON.stringify(NO_VITEST)});
       const kit = await import(${JSON.stringify(specifier)});
       ${use}`,
    ],
    { cwd: PACKAGE_DIR, encoding: 'utf8', stdio: 'pipe' },
  );

describe('@keybrake/testkit entry points', () => {
  it('should load the fakes without vitest', () => {
    const output = importWithoutVitest(
      '@keybrake/testkit',
      'const fake = await kit.createFakeStripe(); console.log(fake.url.startsWith("http://127.0.0.1:")); await fake.close();',
    );
    expect(output.trim()).toBe('true');
  });

  it('should keep the conformance suites, which need vitest, at their own entry', () => {
    expect(() => importWithoutVitest('@keybrake/testkit/conformance', '')).toThrow(/vitest was imported/);
  });
});
