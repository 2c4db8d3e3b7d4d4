import { definePackageConfig } from '../../tsdown.shared.ts';

export default definePackageConfig(new URL('./', import.meta.url), {
  entry: ['src/index.ts', 'src/cli.ts'],
  outputOptions: {
    banner: (chunk) => (chunk.isEntry && chunk.name === 'cli' ? '#!/usr/bin/env node' : ''),
  },
});
