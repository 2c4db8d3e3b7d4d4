import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAcmeVault } from '../test-utils/create-acme-vault.js';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import type { Vault } from '../vault/create-vault.js';

describe('createCappedFetch', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let vault: Vault;
  beforeAll(async () => {
    upstream = await startRecordingUpstream(() => ({ headers: { 'set-cookie': ['a=1', 'b=2'], 'x-vendor': 'yes' } }));
    vault = createAcmeVault({ baseUrl: upstream.url, prices: { 'POST /v1/charges': 4 } });
  });
  afterAll(async () => {
    await vault.close();
    await upstream.close();
  });

  describe('when the vendor answers with repeated headers', () => {
    it('should hand every value to the Response, the VaultResponse record and its Headers', async () => {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const response = await vault.createFetch({ vaultKey: key.vaultKey })('https://api.acme.test/v1/charges', {
        method: 'POST',
        body: 'amount=1',
      });
      expect(response.status).toBe(200);
      expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
      expect(response.headers.get('x-vendor')).toBe('yes');
      expect(await response.json()).toEqual({ ok: true, path: '/v1/charges' });

      const answer = await vault.handle({
        method: 'POST',
        path: '/v1/charges',
        headers: { authorization: `Bearer ${key.vaultKey}` },
        body: 'amount=1',
      });
      expect(answer.headerRecord).toMatchObject({ 'set-cookie': ['a=1', 'b=2'], 'x-vendor': 'yes' });
      expect(answer.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
      expect(answer.headerRecord['content-length']).toBeUndefined();
    });
  });

  describe('when the vault denies the call', () => {
    it('should answer in the vendor shape with x-keybrake-code in the record and the Headers', async () => {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 5 });
      const cappedFetch = vault.createFetch({ vaultKey: key.vaultKey });
      const call = () => cappedFetch('https://api.acme.test/v1/charges', { method: 'POST', body: 'amount=1' });
      expect((await call()).status).toBe(200);
      const before = upstream.received.length;
      const denied = await call();
      expect(denied.status).toBe(429);
      expect(denied.headers.get('x-keybrake-code')).toBe('KEYBRAKE_CAP_EXCEEDED');
      expect(upstream.received).toHaveLength(before);

      const answer = await vault.handle({
        method: 'POST',
        path: '/v1/charges',
        headers: { authorization: `Bearer ${key.vaultKey}` },
        body: 'amount=1',
      });
      expect(answer.headerRecord['x-keybrake-code']).toBe('KEYBRAKE_CAP_EXCEEDED');
      expect(answer.headers.get('content-type')).toContain('json');
    });
  });
});
