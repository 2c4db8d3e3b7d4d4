/** Result of {@link normalizePath}: the canonical path, or why it was refused. */
export type NormalizedPath = { ok: true; path: string } | { ok: false; reason: string };

const MAX_PATH_LENGTH = 2048;
/**
 * A path of non-empty segments of unreserved characters but `.` is already canonical: nothing to
 * decode, no dot segment, no empty segment, and `encodeURIComponent` leaves every character as it is.
 */
const CANONICAL = /^(?:\/[A-Za-z0-9_~-]+)+$/;

/**
 * Canonicalises a request path before it is matched against an allow-list or forwarded:
 * percent-decodes each segment once, resolves `.` and `..`, collapses repeated slashes, and
 * refuses anything that could mean something else upstream — encoded slashes or backslashes
 * (`%2F`, `%5C`), NUL and control characters, double encoding (`%252F`), a `..` that climbs above
 * the root, or a path that does not start with `/`.
 *
 * @param rawPath - The path part of a URL, without query (`/v1/customers/cus_123`).
 * @returns `{ ok: true, path }` with each segment re-encoded canonically, or `{ ok: false, reason }`.
 * @example
 * ```ts
 * normalizePath('/v1/./customers/../payment_intents'); // { ok: true, path: '/v1/payment_intents' }
 * normalizePath('/v1/customers%2F..%2Frefunds'); // { ok: false, reason: 'encoded slash' }
 * ```
 */
export function normalizePath(rawPath: string): NormalizedPath {
  if (!rawPath.startsWith('/')) return { ok: false, reason: 'path must start with /' };
  if (rawPath.length > MAX_PATH_LENGTH) return { ok: false, reason: 'path too long' };
  if (CANONICAL.test(rawPath)) return { ok: true, path: rawPath };
  const segments: string[] = [];
  const parts = rawPath.split('/');
  for (let index = 1; index < parts.length; index++) {
    const part = parts[index] ?? '';
    let decoded: string;
    try {
      decoded = decodeURIComponent(part);
    } catch {
      return { ok: false, reason: 'malformed percent-encoding' };
    }
    if (decoded.includes('/') || decoded.includes('\\')) return { ok: false, reason: 'encoded slash' };
    // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point.
    if (/[\u0000-\u001f\u007f]/.test(decoded)) return { ok: false, reason: 'control character' };
    if (/%[0-9a-f]{2}/i.test(decoded)) return { ok: false, reason: 'double percent-encoding' };
    if (decoded === '' || decoded === '.') {
      if (index === parts.length - 1 && segments.length > 0 && decoded === '') segments.push('');
      continue;
    }
    if (decoded === '..') {
      if (segments.length === 0) return { ok: false, reason: 'path escapes the root' };
      segments.pop();
      continue;
    }
    segments.push(
      encodeURIComponent(decoded).replace(/%(40|3A|2C|2B|3D|24|21|7E|27|28|29|2A)/gi, (m) => decodeURIComponent(m)),
    );
  }
  const joined = `/${segments.join('/')}`;
  return { ok: true, path: joined.length > 1 && joined.endsWith('/') ? joined.slice(0, -1) : joined };
}
