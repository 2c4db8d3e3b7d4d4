import { describe, expect, it } from 'vitest';
import { generateVaultKey, hashVaultKey, parseVaultKey, redactVaultKeys, toKeyId } from './vault-key-format.js';

describe('generateVaultKey', () => {
  it('should make a recognisable, checksummed key whose id parses back', () => {
    const { vaultKey, keyId, hash } = generateVaultKey('test');
    expect(vaultKey).toMatch(/^kb_test_[0-9A-Za-z]{46}$/);
    expect(parseVaultKey(vaultKey)).toEqual({ mode: 'test', keyId });
    expect(hash).toBe(hashVaultKey(vaultKey));
    expect(generateVaultKey('live').vaultKey.startsWith('kb_live_')).toBe(true);
  });

  it('should never repeat', () => {
    const keys = new Set(Array.from({ length: 1000 }, () => generateVaultKey('test').vaultKey));
    expect(keys.size).toBe(1000);
  });
});

describe('parseVaultKey', () => {
  describe('when the key has a typo', () => {
    it('should reject it without a lookup', () => {
      const { vaultKey } = generateVaultKey('test');
      const index = 20;
      const typo = `${vaultKey.slice(0, index)}${vaultKey[index] === 'a' ? 'b' : 'a'}${vaultKey.slice(index + 1)}`;
      expect(parseVaultKey(typo)).toBeUndefined();
      expect(parseVaultKey(vaultKey.slice(0, -1))).toBeUndefined();
      expect(parseVaultKey(`sk_test_${vaultKey.slice(8)}`)).toBeUndefined();
      expect(parseVaultKey('')).toBeUndefined();
    });
  });
});

describe('toKeyId', () => {
  it('should read a vault key as its id, and leave an id or a key with a typo as it is', () => {
    const { vaultKey, keyId } = generateVaultKey('live');
    expect(toKeyId(vaultKey)).toBe(keyId);
    expect(toKeyId(keyId)).toBe(keyId);
    const typo = `${vaultKey.slice(0, -1)}${vaultKey.endsWith('A') ? 'B' : 'A'}`;
    expect(toKeyId(typo)).toBe(typo);
  });
});

describe('redactVaultKeys', () => {
  const { vaultKey } = generateVaultKey('test');
  const secretPart = vaultKey.slice('kb_test_'.length);

  it('should redact a key written plainly, percent-encoded in part, or encoded twice', () => {
    const once = vaultKey.replace(/^kb_test_(.)/, (_, first: string) => `kb_test_%${first.charCodeAt(0).toString(16)}`);
    const twice = once.replace('%', '%25');
    for (const text of [`/v1/customers/${vaultKey}`, `/v1/customers/${once}/x%2Fy`, `member ${twice}`]) {
      const redacted = redactVaultKeys(text);
      expect(redacted).toContain('[redacted vault key]');
      expect(redacted).not.toContain(secretPart.slice(1));
    }
  });

  it('should leave text without a key as it is, escapes included', () => {
    for (const text of ['/v1/customers/cus_%41bc', 'kb_test_short', '%E2%82%AC', '']) {
      expect(redactVaultKeys(text)).toBe(text);
    }
  });
});
