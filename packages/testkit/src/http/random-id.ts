import { randomBytes } from 'node:crypto';

const alphanumeric = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Random alphanumeric characters, as used in vendor object ids.
 *
 * @param length - Number of characters.
 * @returns A string of `[A-Za-z0-9]`.
 * @example
 * ```ts
 * `pi_${randomAlphanumeric(24)}`;
 * ```
 */
export function randomAlphanumeric(length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += alphanumeric[byte % alphanumeric.length];
  return out;
}

/**
 * Random lower-case hex characters, as used in Twilio SIDs.
 *
 * @param length - Number of characters.
 * @returns A string of `[0-9a-f]`.
 * @example
 * ```ts
 * `SM${randomHex(32)}`;
 * ```
 */
export function randomHex(length: number): string {
  return randomBytes(Math.ceil(length / 2))
    .toString('hex')
    .slice(0, length);
}
