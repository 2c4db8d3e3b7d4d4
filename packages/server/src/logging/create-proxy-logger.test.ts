import { describe, expect, it } from 'vitest';
import { createProxyLogger } from './create-proxy-logger.js';

describe('createProxyLogger', () => {
  describe('when a line carries a credential by mistake', () => {
    it('should censor it', () => {
      const lines: string[] = [];
      const logger = createProxyLogger({ level: 'info', destination: { write: (line: string) => lines.push(line) } });
      logger.info(
        {
          authorization: 'Bearer kb_test_secret',
          vaultKey: 'kb_test_secret',
          headers: { authorization: 'Basic abc' },
          secrets: { stripe: 'sk_test_x' },
          keyId: 'kbk_1',
        },
        'oops',
      );
      const [line] = lines;
      expect(line).not.toContain('kb_test_secret');
      expect(line).not.toContain('sk_test_x');
      expect(line).not.toContain('Basic abc');
      expect(JSON.parse(line ?? '{}')).toMatchObject({ keyId: 'kbk_1', vaultKey: '[redacted]', msg: 'oops' });
    });
  });
});
