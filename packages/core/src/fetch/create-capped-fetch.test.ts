import { Headers as UndiciHeaders } from 'undici';
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

  describe('when headers come as another fetch implementation builds them', () => {
    it("should read the vault key and forward every header of undici's own Headers", async () => {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const before = upstream.received.length;
      const response = await vault.createFetch()('https://api.acme.test/v1/charges', {
        method: 'POST',
        body: 'amount=1',
        headers: new UndiciHeaders({
          authorization: `Bearer ${key.vaultKey}`,
          'idempotency-key': 'retry-safe-1',
        }) as unknown as Headers,
      });
      expect(response.status).toBe(200);
      expect(response.statusText).toBe('OK');
      expect(upstream.received[before]?.headers).toMatchObject({ 'idempotency-key': 'retry-safe-1' });
    });
  });

  describe('when the call is a HEAD', () => {
    it("should keep the vendor's content-length, as there is no body to measure", async () => {
      const sized = await startRecordingUpstream(() => ({ headers: { 'content-length': '1234' } }));
      const reads = createAcmeVault({ baseUrl: sized.url, prices: { 'HEAD /**': 0 } });
      const key = await reads.issueKey({ vendor: 'acme', capUsd: 10 });
      const head = await reads.createFetch({ vaultKey: key.vaultKey })('https://api.acme.test/v1/thing', {
        method: 'HEAD',
      });
      await reads.close();
      await sized.close();
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe('1234');
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
