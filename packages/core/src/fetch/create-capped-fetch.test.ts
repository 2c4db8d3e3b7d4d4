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
      expect(head.body).toBeNull(); // as fetch gives it
    });
  });

  describe('when it is used as fetch is', () => {
    const charge = 'https://api.acme.test/v1/charges';

    it('should send the bytes given at call time, as fetch copies them, even if the caller reuses its buffer', async () => {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const body = new TextEncoder().encode('amount=1000');
      const before = upstream.received.length;
      const pending = vault.createFetch({ vaultKey: key.vaultKey })(charge, { method: 'POST', body });
      body.set(new TextEncoder().encode('amount=9000'));
      expect((await pending).status).toBe(200);
      // A Node Buffer too, whose own slice() is a view, not a copy.
      const buffer = Buffer.from('amount=2000');
      const buffered = vault.createFetch({ vaultKey: key.vaultKey })(charge, { method: 'POST', body: buffer });
      buffer.write('amount=8000');
      expect((await buffered).status).toBe(200);
      expect(upstream.received.slice(before).map((request) => request.body)).toEqual(['amount=1000', 'amount=2000']);
    });

    it('should pass no Keybrake header on to the vendor', async () => {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const before = upstream.received.length;
      await vault.createFetch({ vaultKey: key.vaultKey })(charge, {
        method: 'POST',
        headers: { 'x-keybrake-member': 'billing', 'x-keybrake-tool': 'charge', 'X-Keybrake-Tool-Call-Id': 'call_1' },
        body: 'amount=1',
      });
      const [sent] = upstream.received.slice(before);
      expect(Object.keys(sent?.headers ?? {}).filter((name) => name.startsWith('x-keybrake'))).toEqual([]);
    });

    it('should reject a GET or HEAD with a body with a TypeError, as fetch does, and send nothing', async () => {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const send = vault.createFetch({ vaultKey: key.vaultKey });
      const before = upstream.received.length;
      await expect(send(charge, { method: 'GET', body: 'amount=1' })).rejects.toThrow(TypeError);
      await expect(send(charge, { body: new Uint8Array([1]) })).rejects.toThrow(TypeError);
      await expect(send(charge, { method: 'head', body: 'x' })).rejects.toThrow(TypeError);
      expect(upstream.received.length).toBe(before);
    });

    it("should send a string body with fetch's default Content-Type, on both of its paths, unless one is given", async () => {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 20 });
      const send = vault.createFetch({ vaultKey: key.vaultKey });
      const before = upstream.received.length;
      await send(charge, { method: 'POST', body: 'a=1' });
      await send(new Request(charge, { method: 'POST', body: 'a=1' }));
      await send(charge, {
        method: 'POST',
        body: 'a=1',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      });
      expect(upstream.received.slice(before).map((request) => request.headers['content-type'])).toEqual([
        'text/plain;charset=UTF-8',
        'text/plain;charset=UTF-8',
        'application/x-www-form-urlencoded',
      ]);
    });

    it.each([
      ['a line break', { 'x-note': 'a\r\nx-injected: 1' }, 'x-note'],
      ['a character above U+00FF', { 'x-note': 'caf\u00e9 \u20ac' }, 'x-note'],
      ['a name that is not a token', { 'x note': '1' }, 'x note'],
    ])(
      'should refuse a header with %s with 400 naming it, before reserving, and send nothing',
      async (_, given, name) => {
        const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
        const before = upstream.received.length;
        const response = await vault.createFetch({ vaultKey: key.vaultKey })(charge, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...given },
          body: 'a=1',
        });
        const { error } = (await response.json()) as { error: { message: string } };
        expect(response.status).toBe(400);
        expect(response.headers.get('x-keybrake-code')).toBe('KEYBRAKE_INVALID_REQUEST');
        expect(error.message).toContain(JSON.stringify(name));
        expect(error.message).not.toContain('could not be reached');
        expect(upstream.received.length).toBe(before);
        expect(await vault.getKeyStatus(key.id)).toMatchObject({ calls: 0, spentUsd: 0 });
        const { records } = await vault.queryAudit({ keyId: key.id });
        expect(records.map((record) => [record.decision, record.reason])).toEqual([
          ['denied', 'KEYBRAKE_INVALID_REQUEST'],
        ]);
      },
    );

    it('should not quote a vault key used as the name of a header it refuses', async () => {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const response = await vault.handle({
        vaultKey: key.vaultKey,
        method: 'POST',
        path: '/v1/charges',
        headers: { [key.vaultKey]: 'a\r\nb' },
      });
      expect(response.status).toBe(400);
      expect(response.keybrake.error?.message).toMatch(
        /^Keybrake denied this call: its "\[redacted vault key\]" header/,
      );
      expect(new TextDecoder().decode(response.body)).not.toContain(key.vaultKey);
    });

    it("should send a header value that is not a string as its string, as fetch's Headers does", async () => {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const before = upstream.received.length;
      const response = await vault.createFetch({ vaultKey: key.vaultKey })(charge, {
        method: 'POST',
        headers: { 'x-retry-count': 2 } as unknown as Record<string, string>,
        body: 'a=1',
      });
      expect(response.status).toBe(200);
      expect(upstream.received[before]?.headers).toMatchObject({ 'x-retry-count': '2' });
    });

    it('should reject with the abort reason at once, even while a streamed body stalls, and send nothing', async () => {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const send = vault.createFetch({ vaultKey: key.vaultKey });
      const stalled = () =>
        new ReadableStream<Uint8Array>({ start: (controller) => controller.enqueue(new TextEncoder().encode('a=1')) });
      const streamed = (signal: AbortSignal) =>
        ({ method: 'POST', body: stalled(), duplex: 'half', signal }) as RequestInit;
      const before = upstream.received.length;
      await expect(send(charge, streamed(AbortSignal.abort()))).rejects.toMatchObject({ name: 'AbortError' });
      await expect(send(charge, streamed(AbortSignal.timeout(50)))).rejects.toMatchObject({ name: 'TimeoutError' });
      await expect(send(charge, { method: 'POST', body: 'a=1', signal: AbortSignal.abort() })).rejects.toMatchObject({
        name: 'AbortError',
      });
      expect(upstream.received.length).toBe(before);
      expect(await vault.getKeyStatus(key.id)).toMatchObject({ calls: 0 });
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
