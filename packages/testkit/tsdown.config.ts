import { definePackageConfig } from '../../tsdown.shared.ts';

export default definePackageConfig(new URL('./', import.meta.url), {
  entry: { index: 'src/index.ts', 'conformance/index': 'src/conformance/index.ts' },
});
