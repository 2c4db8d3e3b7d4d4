import { definePackageConfig } from '../../tsdown.shared.ts';

export default definePackageConfig(new URL('./', import.meta.url));
