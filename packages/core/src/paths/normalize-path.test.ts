import { describe, expect, it } from 'vitest';
import { normalizePath } from './normalize-path.js';

describe('normalizePath', () => {
  describe('when the path is plain', () => {
    it('should keep it', () => {
      expect(normalizePath('/v1/payment_intents')).toEqual({ ok: true, path: '/v1/payment_intents' });
      expect(normalizePath('/2010-04-01/Accounts/AC123/Messages.json')).toEqual({
        ok: true,
        path: '/2010-04-01/Accounts/AC123/Messages.json',
      });
    });
  });

  describe('when paths are built from tricky segments', () => {
    const segments = ['a', 'Z9', '_-~', '.', '..', '', '%41', '%2F', '%252F', 'a b', 'é', '%25', 'x.y', 'A%7e', '%E9'];
    const paths = segments.flatMap((first) =>
      segments.flatMap((second) => segments.map((third) => `/${first}/${second}/${third}`)),
    );

    it('should give a canonical path that normalizes to itself', () => {
      for (const path of paths) {
        const result = normalizePath(path);
        if (result.ok) expect(normalizePath(result.path), path).toEqual(result);
      }
    });

    it('should keep a path of plain segments exactly as it is, and still rewrite the others', () => {
      for (const path of paths) {
        if (/^(\/[A-Za-z0-9_~-]+)+$/.test(path)) expect(normalizePath(path), path).toEqual({ ok: true, path });
      }
      expect(normalizePath('/v1//customers/')).toEqual({ ok: true, path: '/v1/customers' });
      expect(normalizePath('/v1/%63ustomers')).toEqual({ ok: true, path: '/v1/customers' });
    });
  });

  describe('when the path has dot segments', () => {
    it('should resolve . and .. and collapse slashes', () => {
      expect(normalizePath('/v1/./customers/../payment_intents')).toEqual({ ok: true, path: '/v1/payment_intents' });
      expect(normalizePath('/v1//customers///cus_1/')).toEqual({ ok: true, path: '/v1/customers/cus_1' });
      expect(normalizePath('/v1/customers/%2e%2e/refunds')).toEqual({ ok: true, path: '/v1/refunds' });
    });

    it('should refuse a .. that climbs above the root', () => {
      expect(normalizePath('/../etc/passwd')).toEqual({ ok: false, reason: 'path escapes the root' });
      expect(normalizePath('/v1/../../x')).toEqual({ ok: false, reason: 'path escapes the root' });
    });
  });

  describe('when the path hides separators or encodings', () => {
    it.each([
      ['/v1/customers%2F..%2Frefunds', 'encoded slash'],
      ['/v1/customers%2f..%2frefunds', 'encoded slash'],
      ['/v1/customers%5C..%5Crefunds', 'encoded slash'],
      ['/v1/customers%252F..', 'double percent-encoding'],
      ['/v1/customers%00', 'control character'],
      ['/v1/customers%E0%A4%A', 'malformed percent-encoding'],
      ['v1/customers', 'path must start with /'],
    ])('should refuse %s', (path, reason) => {
      expect(normalizePath(path)).toEqual({ ok: false, reason });
    });
  });
});
