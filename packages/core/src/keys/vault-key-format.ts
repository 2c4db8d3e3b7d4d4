import { createHash, randomBytes } from 'node:crypto';

/** `test` keys front test-mode secrets; `live` keys front live ones. Shown in the prefix. */
export type KeyMode = 'test' | 'live';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const ID_LENGTH = 16; // ~95 bits: public handle
const SECRET_LENGTH = 24; // ~142 bits of randomness
const CHECKSUM_LENGTH = 6;
const BODY_LENGTH = ID_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH;
const KEY_PATTERN = new RegExp(`^kb_(test|live)_([0-9A-Za-z]{${BODY_LENGTH}})$`);

/** The public id prefix: `kbk_…`. */
export const KEY_ID_PREFIX = 'kbk_';

/** A freshly generated vault key: the secret the agent holds, its public id, and the hash to store. */
export interface GeneratedVaultKey {
  /** `kb_test_…` — give this to the agent; it is shown once and never stored. */
  vaultKey: string;
  /** `kbk_…` — the public handle, safe to log. */
  keyId: string;
  /** SHA-256 of the vault key, hex; the only form that is stored. */
  hash: string;
}

/** A vault key whose prefix, length and checksum are valid. */
export interface ParsedVaultKey {
  mode: KeyMode;
  keyId: string;
}

function randomBase62(length: number): string {
  // Rejection sampling keeps every character uniform.
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

function checksum(text: string): string {
  const digest = createHash('sha256').update(text).digest();
  let value = digest.readUIntBE(0, 6);
  let out = '';
  for (let index = 0; index < CHECKSUM_LENGTH; index++) {
    out += ALPHABET[value % 62];
    value = Math.floor(value / 62);
  }
  return out;
}

/**
 * Hashes a vault key for storage and comparison.
 *
 * @example
 * ```ts
 * hashVaultKey('kb_test_…'); // '9f86d0…'
 * ```
 */
export function hashVaultKey(vaultKey: string): string {
  return createHash('sha256').update(vaultKey).digest('hex');
}

/**
 * Generates a new vault key: `kb_<mode>_` + a 16-character id + 24 random characters + a
 * 6-character checksum, all base62, so secret scanners can recognise it and typos are caught
 * without a lookup.
 *
 * @example
 * ```ts
 * const { vaultKey, keyId, hash } = generateVaultKey('test');
 * ```
 */
export function generateVaultKey(mode: KeyMode): GeneratedVaultKey {
  const id = randomBase62(ID_LENGTH);
  const body = `kb_${mode}_${id}${randomBase62(SECRET_LENGTH)}`;
  const vaultKey = `${body}${checksum(body)}`;
  return { vaultKey, keyId: `${KEY_ID_PREFIX}${id}`, hash: hashVaultKey(vaultKey) };
}

/**
 * Checks a presented vault key's shape and checksum without any lookup.
 *
 * @returns The mode and key id, or `undefined` if the string is not a well-formed vault key.
 * @example
 * ```ts
 * parseVaultKey('kb_test_…')?.keyId; // 'kbk_…'
 * ```
 */
export function parseVaultKey(candidate: string): ParsedVaultKey | undefined {
  const match = KEY_PATTERN.exec(candidate);
  if (!match) return undefined;
  const body = candidate.slice(0, candidate.length - CHECKSUM_LENGTH);
  if (checksum(body) !== candidate.slice(-CHECKSUM_LENGTH)) return undefined;
  return { mode: match[1] as KeyMode, keyId: `${KEY_ID_PREFIX}${(match[2] ?? '').slice(0, ID_LENGTH)}` };
}

/**
 * The key id a caller names a key by: a key id as given, or the id inside a well-formed vault key,
 * so an operator holding only a leaked vault key can show or revoke it. A key-shaped string whose
 * checksum fails names no key and is returned as is: redact it before it is shown
 * ({@link redactVaultKeys}).
 *
 * @param idOrVaultKey - A key id (`kbk_…`) or a vault key (`kb_test_…`).
 * @returns The key id.
 * @example
 * ```ts
 * toKeyId('kb_test_…'); // 'kbk_…'
 * toKeyId('kbk_…'); // 'kbk_…'
 * ```
 */
export function toKeyId(idOrVaultKey: string): string {
  return parseVaultKey(idOrVaultKey)?.keyId ?? idOrVaultKey;
}

/** Whether a string looks like a vault key (for redaction): prefix and length, no checksum. */
export function looksLikeVaultKey(text: string): boolean {
  return /kb_(test|live)_[0-9A-Za-z]{20,}/.test(text);
}

/**
 * Replaces everything in `text` that looks like a vault key with `[redacted vault key]`: for text
 * a client controls that is logged or audited, such as a request path.
 *
 * @example
 * ```ts
 * redactVaultKeys('/v1/customers/kb_test_AbC…'); // '/v1/customers/[redacted vault key]'
 * ```
 */
export function redactVaultKeys(text: string): string {
  // A key percent-encoded even in part (`kb_test_%41bC…`) is as good as plain once decoded.
  const plain = text.includes('%') ? decodeAsciiEscapes(text) : text;
  return plain.includes('kb_') && VAULT_KEY_ANYWHERE.test(plain)
    ? plain.replace(VAULT_KEYS_ANYWHERE, '[redacted vault key]')
    : text;
}

const VAULT_KEY_ANYWHERE = /kb_(test|live)_[0-9A-Za-z]{20,}/;
const VAULT_KEYS_ANYWHERE = /kb_(test|live)_[0-9A-Za-z]{20,}/g;

/** Decodes `%XX` escapes of ASCII characters, repeatedly (`%2541` → `A`), and leaves the rest as is. */
function decodeAsciiEscapes(text: string): string {
  let current = text;
  for (let round = 0; round < 4; round++) {
    const next = current.replace(/%([0-7][0-9A-Fa-f])/g, (_, hex: string) =>
      String.fromCharCode(Number.parseInt(hex, 16)),
    );
    if (next === current) break;
    current = next;
  }
  return current;
}
