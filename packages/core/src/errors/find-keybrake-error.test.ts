import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAcmeVault } from '../test-utils/create-acme-vault.js';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { findKeybrakeError } from './find-keybrake-error.js';

describe('findKeybrakeError', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  beforeAll(async () => {
    upstream = await startRecordingUpstream();
  });
  afterAll(() => upstream.close());

  describe('when an HTTP client error keeps the denial only as its raw response body', () => {
    it('should rebuild the denial from the JSON body, and never throw on a body that only looks like one', async () => {
      const vault = createAcmeVault({ baseUrl: upstream.url, prices: { 'POST /v1/charges': 1 } });
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 0.5, label: 'agent' });
      const response = await vault.createFetch({ vaultKey: key.vaultKey })('http://x/v1/charges', { method: 'POST' });
      // Shaped like the AI SDK's APICallError: the status and the body as a string.
      const error = Object.assign(new Error('Too Many Requests'), {
        statusCode: response.status,
        responseBody: await response.text(),
      });

      const denial = findKeybrakeError(error);

      expect(denial?.code).toBe('KEYBRAKE_CAP_EXCEEDED');
      expect(denial).toMatchObject({ keyId: key.id, label: 'agent', capUsd: 0.5, attemptedUsd: 1 });
      expect(upstream.received).toHaveLength(0);
      for (const responseBody of ['{"error":{"code":"KEYBRAKE_CAP_EXCEEDED"', '"KEYBRAKE_CAP_EXCEEDED"', 'null']) {
        expect(findKeybrakeError({ statusCode: 429, responseBody })).toBeUndefined();
      }
      await vault.close();
    });
  });
});
