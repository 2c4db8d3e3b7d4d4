import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFixedPriceCostModel } from '../costs/create-fixed-price-cost-model.js';
import { KeybrakeError } from '../errors/keybrake-error.js';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createVault, type Vault } from '../vault/create-vault.js';
import { createBearerVendor } from '../vendors/create-bearer-vendor.js';
import { noteMemberWentOn, runWithActor } from './actor-context.js';
import { runCappedTool } from './run-capped-tool.js';

describe('runCappedTool inside another tool run', () => {
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
    const error = await outcome(runCappedTool(actor, () => Promise.reject(new Error('next step failed')), { denials }));
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
