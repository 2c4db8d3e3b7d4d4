import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixedPriceCostModel } from '../costs/create-fixed-price-cost-model.js';
import { CapExceededError } from '../errors/cap-exceeded-error.js';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createVault, type Vault } from '../vault/create-vault.js';
import { createBearerVendor } from '../vendors/create-bearer-vendor.js';
import { formatDenialForModel, runCappedTool } from './run-capped-tool.js';

describe('runCappedTool', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let vault: Vault;
  beforeAll(async () => {
    upstream = await startRecordingUpstream();
    vault = createVault({
      vendors: {
        acme: createBearerVendor({
          name: 'acme',
          baseUrl: upstream.url,
          costModel: createFixedPriceCostModel({ prices: { 'POST /**': 6 } }),
        }),
      },
      secrets: { acme: 'sk_secret' },
    });
  });
  afterAll(async () => {
    await vault.close();
    await upstream.close();
  });

  describe('when a tool fails after the vault denied one of its calls', () => {
    it('should reject with the typed denial and audit the actor', async () => {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10, label: 'team/billing' });
      const send = vault.createFetch({ vaultKey: key.vaultKey });
      const tool = async () => {
        for (let call = 0; call < 2; call++) {
          const response = await send('http://x/charge', { method: 'POST' });
          if (!response.ok) throw new Error(`charge failed with ${response.status}`);
        }
        return 'charged twice';
      };
      const outcome = await runCappedTool({ member: 'billing', tool: 'charge', toolCallId: 'call_7' }, tool).catch(
        (error: unknown) => error,
      );
      expect(outcome).toBeInstanceOf(CapExceededError);
      const denial = outcome as CapExceededError;
      expect(denial).toMatchObject({
        code: 'KEYBRAKE_CAP_EXCEEDED',
        capUsd: 10,
        spentUsd: 6,
        attemptedUsd: 6,
        label: 'team/billing',
      });
      expect(formatDenialForModel(denial)).toMatch(/^KEYBRAKE_CAP_EXCEEDED: .*Retrying will not help/);
      const { records } = await vault.queryAudit({ keyId: key.id });
      expect(records.map((record) => record.actor)).toEqual([
        { member: 'billing', tool: 'charge', toolCallId: 'call_7' },
        { member: 'billing', tool: 'charge', toolCallId: 'call_7' },
      ]);
    });
  });

  describe('when a tool aborts or signals its framework after a denial it handled', () => {
    it('should pass the abort and the signal through unchanged', async () => {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 5 });
      const send = vault.createFetch({ vaultKey: key.vaultKey });
      const signal = Object.assign(new Error('interrupt'), { is_bubble_up: true });
      const abort = new DOMException('The run was cancelled.', 'AbortError');
      const afterDenial = (error: Error) => async () => {
        expect((await send('http://x/charge', { method: 'POST' })).status).toBe(429);
        throw error;
      };
      const passThrough = (error: unknown) => (error as { is_bubble_up?: boolean }).is_bubble_up === true;
      const actor = { member: 'billing', tool: 'charge' };
      await expect(runCappedTool(actor, afterDenial(signal), { passThrough })).rejects.toBe(signal);
      await expect(runCappedTool(actor, afterDenial(abort))).rejects.toBe(abort);
      // A run cancelled by `AbortSignal.timeout()` rejects with a TimeoutError: an abort too.
      const timeout = new DOMException('The operation timed out.', 'TimeoutError');
      await expect(runCappedTool(actor, afterDenial(timeout))).rejects.toBe(timeout);
      // Without the predicate, an error after a denial is still the denial.
      await expect(runCappedTool(actor, afterDenial(signal))).rejects.toBeInstanceOf(CapExceededError);
    });
  });

  describe('when an SDK error carries a Keybrake denial', () => {
    it('should find it in the error', async () => {
      const sdkError = Object.assign(new Error('rate limited'), {
        raw: {
          code: 'KEYBRAKE_CAP_EXCEEDED',
          keybrake: new CapExceededError({
            keyId: 'kbk_1',
            limitingKeyId: 'kbk_0',
            cap: 'total',
            capUsd: 5,
            spentUsd: 5,
            reservedUsd: 0,
            attemptedUsd: 1,
          }).toJSON(),
        },
      });
      const outcome = await runCappedTool({}, () => Promise.reject(sdkError)).catch((error: unknown) => error);
      expect(outcome).toBeInstanceOf(CapExceededError);
      expect((outcome as CapExceededError).cause).toBe(sdkError);
    });
  });

  describe('when the error has nothing to do with Keybrake', () => {
    it('should pass it through unchanged', async () => {
      const plain = new TypeError('bad input');
      await expect(runCappedTool({}, () => Promise.reject(plain))).rejects.toBe(plain);
      await expect(runCappedTool({}, () => 42)).resolves.toBe(42);
    });
  });
});
