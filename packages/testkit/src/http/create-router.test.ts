import { describe, expect, it } from 'vitest';
import { createRouter } from './create-router.js';

describe('createRouter', () => {
  const router = createRouter([
    { method: 'POST', pattern: '/2010-04-01/Accounts/:accountSid/Messages.json', handler: 'create' },
    { method: 'GET', pattern: '/2010-04-01/Accounts/:accountSid/Messages/:sid.json', handler: 'fetch' },
  ]);

  describe('when a pattern has a suffix after a parameter', () => {
    it('should capture the parameter without the suffix', () => {
      expect(router.match('GET', '/2010-04-01/Accounts/AC1/Messages/SM2.json')).toEqual({
        handler: 'fetch',
        params: { accountSid: 'AC1', sid: 'SM2' },
      });
    });
  });

  describe('when the method or path does not match', () => {
    it('should return undefined', () => {
      expect(router.match('GET', '/2010-04-01/Accounts/AC1/Messages.json')).toBeUndefined();
      expect(router.match('POST', '/2010-04-01/Accounts/AC1/Messages.jsonx')).toBeUndefined();
    });
  });
});
