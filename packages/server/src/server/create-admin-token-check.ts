import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * Creates a check of an `Authorization` header against the admin token: `Bearer <token>`,
 * compared in constant time (both sides are hashed first, so neither the content nor the length
 * of the token leaks through timing).
 *
 * @param adminToken - The admin token.
 * @returns A function telling whether a header carries the admin token.
 * @example
 * ```ts
 * const isAdmin = createAdminTokenCheck(process.env.KEYBRAKE_ADMIN_TOKEN ?? '');
 * isAdmin(request.headers.authorization); // true or false
 * ```
 */
export function createAdminTokenCheck(adminToken: string): (authorization: string | undefined) => boolean {
  const expected = digest(adminToken);
  return (authorization) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    return timingSafeEqual(digest(match?.[1] ?? ''), expected) && match !== null;
  };
}
