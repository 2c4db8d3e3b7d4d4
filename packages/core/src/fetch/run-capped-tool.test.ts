import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixedPriceCostModel } from '../costs/create-fixed-price-cost-model.js';
import { CapExceededError } from '../errors/cap-exceeded-error.js';
import { KeybrakeError } from '../errors/keybrake-error.js';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createVault, type Vault } from '../vault/create-vault.js';
import { createBearerVendor } from '../vendors/create-bearer-vendor.js';
import { type DelegationReport, noteMemberWentOn, runDelegation, runWithActor } from './actor-context.js';
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

  describe('when a tool run answers a denial as its result, inside a delegation', () => {
    it("should note the run's tool call id and denial in the delegation's report, once per run", async () => {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 5, label: 'team/billing' });
      const send = vault.createFetch({ vaultKey: key.vaultKey });
      const forgiving = async () => {
        const response = await send('http://x/charge', { method: 'POST' });
        return response.ok ? 'charged' : `failed: ${response.status}`;
      };
      const report: DelegationReport = { answered: [] };
      const outputs = await runDelegation(async () => {
        const denied = await runCappedTool({ member: 'billing', tool: 'charge', toolCallId: 'call_1' }, forgiving);
        // A run that throws its denial is its framework's to see, not the report's.
        const thrown = await runCappedTool({ member: 'billing', tool: 'charge', toolCallId: 'call_2' }, async () => {
          throw new Error(await forgiving());
        }).catch((error: unknown) => error);
        const free = await runCappedTool({ member: 'billing', tool: 'note', toolCallId: 'call_3' }, () => 'noted');
        return [denied, thrown, free];
      }, report);
      expect(outputs[0]).toBe('failed: 429');
      expect(outputs[1]).toBeInstanceOf(CapExceededError);
      expect(report.answered).toEqual([{ toolCallId: 'call_1', denial: expect.any(CapExceededError) }]);
      expect(report.answered[0]?.denial).not.toBe(outputs[1]);
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

  describe('inside another tool run', () => {
    /** A member tool written the usual way: a failed charge is a plain error. */
    const charger = async () => {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const send = vault.createFetch({ vaultKey: key.vaultKey });
      return async () => {
        const response = await send('http://x/charge', { method: 'POST' });
        if (!response.ok) throw new Error(`charge failed with ${response.status}`);
        return 'charged';
      };
    };
    const outcome = (promise: Promise<unknown>) =>
      promise.then(
        () => 'resolved',
        (error: unknown) => error,
      );

    it('should see the member denial through a runWithActor scope between the supervisor tool and the member run', async () => {
      const charge = await charger();
      const error = await outcome(
        runCappedTool({ member: 'supervisor', tool: 'ask_billing', toolCallId: 's1' }, async () => {
          // The app labels the member's work (runWithActor is public, documented for exactly this).
          await runWithActor({ member: 'billing' }, async () => {
            await runCappedTool({ tool: 'charge', toolCallId: 'm1' }, charge); // $6
            await runCappedTool({ tool: 'charge', toolCallId: 'm2' }, charge).catch(() => {}); // denied
            throw new Error('model provider overloaded'); // the member's model gives up
          });
        }),
      );
      expect(KeybrakeError.isInstance(error)).toBe(true); // before d0c6a66: the denial; now: the plain error
    });

    it('should note a vendor call denied under runWithActor inside a tool in the tool run', async () => {
      const charge = await charger();
      await charge();
      const error = await outcome(
        runCappedTool({ member: 'billing', tool: 'charge', toolCallId: 'c1' }, async () => {
          await runWithActor({ tool: 'charge/step-2' }, charge); // denied, then a plain error thrown
        }),
      );
      expect(KeybrakeError.isInstance(error)).toBe(true);
    });

    it('should keep the denial that stopped the member when a parallel sibling ends later, well', async () => {
      const charge = await charger();
      const error = await outcome(
        runCappedTool({ member: 'supervisor', tool: 'ask_billing', toolCallId: 's2' }, async () => {
          await runCappedTool({ member: 'billing', tool: 'charge', toolCallId: 'm1' }, charge);
          // One model step with two tool calls: the charge is denied, a slow lookup succeeds after it.
          await Promise.allSettled([
            runCappedTool({ member: 'billing', tool: 'charge', toolCallId: 'm2' }, charge),
            runCappedTool({ member: 'billing', tool: 'lookup', toolCallId: 'm3' }, () => sleep(30, 'found')),
          ]);
          throw new Error('model provider overloaded'); // no later step: the member never went on
        }),
      );
      expect(KeybrakeError.isInstance(error)).toBe(true); // the lookup ending 30 ms later decides it
    });

    it('should remember in the next step of a streaming tool a member stopped in an earlier step (denials option)', async () => {
      const charge = await charger();
      const denials: KeybrakeError[] = [];
      const actor = { member: 'supervisor', tool: 'ask_billing', toolCallId: 's3' };
      await runCappedTool(
        actor,
        async () => {
          await runCappedTool({ member: 'billing', tool: 'charge', toolCallId: 'm1' }, charge);
          await runCappedTool({ member: 'billing', tool: 'charge', toolCallId: 'm2' }, charge).catch(() => {});
          return 'member answered: could not charge';
        },
        { denials },
      );
      const error = await outcome(
        runCappedTool(actor, () => Promise.reject(new Error('next step failed')), { denials }),
      );
      expect(KeybrakeError.isInstance(error)).toBe(true);
    });

    it('should let the supervisor tool own error through when the member went on after its denial and the later run was aborted', async () => {
      const charge = await charger();
      const error = await outcome(
        runCappedTool({ member: 'supervisor', tool: 'ask_billing', toolCallId: 's4' }, async () => {
          await runCappedTool({ member: 'billing', tool: 'charge', toolCallId: 'm1' }, charge);
          await runCappedTool({ member: 'billing', tool: 'charge', toolCallId: 'm2' }, charge).catch(() => {}); // denied
          // The member goes on: its next tool call times out (AbortSignal.timeout), the member answers.
          await runCappedTool({ member: 'billing', tool: 'lookup', toolCallId: 'm3' }, async () => {
            await sleep(5, undefined, { signal: AbortSignal.timeout(1) });
          }).catch(() => {});
          throw new Error('CRM unavailable');
        }),
      );
      expect(error).toMatchObject({ message: 'CRM unavailable' });
    });

    it('should not read a member as stopped once its adapter says it went on (a tool Keybrake does not wrap)', async () => {
      const charge = await charger();
      const error = await outcome(
        runCappedTool({ member: 'lead', tool: 'ask_supervisor', toolCallId: 'g1' }, async () => {
          // The supervisor's delegation to billing, wrapped, ends well: billing went on after its denial.
          await runCappedTool({ member: 'supervisor', tool: 'ask_billing', toolCallId: 's5' }, async () => {
            await runCappedTool({ member: 'billing', tool: 'charge', toolCallId: 'm1' }, charge);
            const denial = await runCappedTool({ member: 'billing', tool: 'charge', toolCallId: 'm2' }, charge).catch(
              (error: KeybrakeError) => error,
            );
            noteMemberWentOn(denial as KeybrakeError); // its next tool call, a free note, is not wrapped: memberAsTool saw it
            return 'billing: could not charge, noted it';
          });
          throw new Error('CRM unavailable');
        }),
      );
      expect(error).toMatchObject({ message: 'CRM unavailable' });
    });
  });
});
