/**
 * Reads a vault key from request headers: `Authorization: Bearer <key>`, or the password (or, for
 * SDKs that send the key as the user name, the user name) of `Authorization: Basic`.
 *
 * @returns The candidate key, or `undefined` if none is present.
 * @example
 * ```ts
 * readVaultKey(new Headers({ authorization: 'Bearer kb_test_…' })); // 'kb_test_…'
 * ```
 */
export function readVaultKey(headers: Headers | Readonly<Record<string, string | undefined>>): string | undefined {
  const authorization = headers instanceof Headers ? headers.get('authorization') : headers.authorization;
  if (!authorization) return undefined;
  const [scheme, value = ''] = authorization.trim().split(/\s+/, 2);
  if (scheme?.toLowerCase() === 'bearer') return value || undefined;
  if (scheme?.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = colon === -1 ? decoded : decoded.slice(0, colon);
    const password = colon === -1 ? '' : decoded.slice(colon + 1);
    if (password.startsWith('kb_')) return password;
    if (user.startsWith('kb_')) return user;
    return password || undefined;
  }
  return undefined;
}
