/**
 * Credentials decoded from an `Authorization` header.
 *
 * @example
 * ```ts
 * const credentials: Credentials = { scheme: 'bearer', token: 'sk_test_123' };
 * ```
 */
export type Credentials = { scheme: 'bearer'; token: string } | { scheme: 'basic'; username: string; password: string };

/**
 * Decodes a Bearer or Basic `Authorization` header.
 *
 * @param header - The header value, or `undefined` when absent.
 * @returns The credentials, or `undefined` when absent or in another scheme.
 * @example
 * ```ts
 * parseAuthorization('Basic QUMxOnRva2Vu'); // { scheme: 'basic', username: 'AC1', password: 'token' }
 * ```
 */
export function parseAuthorization(header: string | undefined): Credentials | undefined {
  if (!header) return undefined;
  const [scheme = '', ...rest] = header.trim().split(/\s+/);
  const value = rest.join(' ');
  if (scheme.toLowerCase() === 'bearer' && value) return { scheme: 'bearer', token: value };
  if (scheme.toLowerCase() === 'basic' && value) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return { scheme: 'basic', username: decoded, password: '' };
    return { scheme: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  return undefined;
}
