declare const __KEYBRAKE_VERSION__: string | undefined;

/**
 * The version of `@keybrake/server`, injected at build time (`0.0.0-source` when run from source).
 *
 * @example
 * ```ts
 * console.log(`keybrake ${VERSION}`);
 * ```
 */
export const VERSION: string = typeof __KEYBRAKE_VERSION__ === 'string' ? __KEYBRAKE_VERSION__ : '0.0.0-source';
