// A member whose tool catches Keybrake's denial (the official SDK's error) and returns it as a
// value: the AI SDK records a successful tool call, but the supervisor must still read the denial.
import { isStepCount, ToolLoopAgent, type ToolSet, tool } from 'ai';
import type Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createScriptedModel,
  failsAfter,
  lastToolResults,
  type ScriptedTurn,
} from '../test-utils/create-scripted-model.js';
import { chargeCard, openTestTeam, stripeFor } from '../test-utils/open-test-team.js';
import { withKeybrake } from '../tools/with-keybrake.js';
import { memberAsTool } from './member-as-tool.js';

/** A charge tool that answers any failure as its result, as many hand-written tools do. */
const forgivingTools = (stripe: Stripe): ToolSet => ({
  charge: tool({
    description: 'Charge a customer with their card on file.',
    inputSchema: z.object({ customer: z.string(), amountUsd: z.number() }),
    execute: async ({ customer, amountUsd }) => {
      try {
        const intent = await chargeCard(stripe, customer, amountUsd);
        return { ok: true, id: intent.id };
      } catch (error) {
        return { ok: false, error: (error as Error).message };
      }
    },
  }),
  note: tool({
    description: 'Take a note.',
    inputSchema: z.object({ text: z.string() }),
    execute: async () => 'ok',
  }),
});

/** A supervisor delegating one charge to a billing member scripted by `turns` (whose provider fails after `failAfter` turns). */
async function delegate(turns: Parameters<typeof createScriptedModel>[1], failAfter = Number.POSITIVE_INFINITY) {
  const opened = await openTestTeam();
  const billing = opened.team.member('billing');
  const scripted = createScriptedModel('billing', turns);
  const billingAgent = new ToolLoopAgent({
    model: Number.isFinite(failAfter) ? failsAfter(scripted, failAfter) : scripted,
    tools: withKeybrake(forgivingTools(stripeFor(billing)), { member: billing }),
    stopWhen: isStepCount(5),
  });
  const supervisor = createScriptedModel('supervisor', (_call, turn) =>
    turn === 0
      ? { toolCalls: [{ toolName: 'delegate_billing', input: { task: 'Charge cus_1 $200.' } }] }
      : { text: 'ok' },
  );
  await new ToolLoopAgent({
    model: supervisor,
    tools: { delegate_billing: memberAsTool(billingAgent, { description: 'Charges customers.' }) },
    stopWhen: isStepCount(5),
  }).generate({ prompt: 'Bill cus_1.' });
  return { ...opened, read: lastToolResults(supervisor.doGenerateCalls[1])[0] };
}

/** A member that charges cus_1 each amount in its own step, every call with the id `call_0`, then reports `text`. */
const chargesAsCall0 =
  (amountsUsd: number[], text: string) =>
  (_call: unknown, turn: number): ScriptedTurn => {
    const amountUsd = amountsUsd[turn];
    return amountUsd === undefined
      ? { text }
      : { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd }, toolCallId: 'call_0' }] };
  };

describe('memberAsTool, when a member tool answers its denial as its result', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('should fail the delegation with the denial when the member stopped there', async () => {
    const {
      read,
      fakeStripe,
      close: closeTeam,
    } = await delegate((_call, turn) =>
      turn === 0
        ? { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 200 } }] } // over the $150 cap
        : { text: 'I could not charge cus_1.' },
    );
    close = closeTeam;
    expect(fakeStripe.moneyMoved()).toHaveLength(0);
    expect(read?.output.type).toBe('error-text');
    expect(String(read?.output.value)).toMatch(
      /^KEYBRAKE_CAP_EXCEEDED: .*"capUsd":150.*\nThe member's last report: I could not charge cus_1\.$/s,
    );
  });

  it('should report the denial as one the member went on from when a later tool call succeeded', async () => {
    const { read, close: closeTeam } = await delegate((_call, turn) =>
      turn === 0
        ? { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 200 } }] }
        : turn === 1
          ? { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 50 } }] }
          : { text: 'Charged cus_1 $50.' },
    );
    close = closeTeam;
    expect(read?.output).toEqual({
      type: 'text',
      value: expect.stringMatching(
        /^Charged cus_1 \$50\.\n\nKeybrake denied a call of this member during the run \(KEYBRAKE_CAP_EXCEEDED: .*\); the member went on afterwards\.$/s,
      ),
    });
  });

  it("should fail the delegation when the denial came last, though its tool call id repeats an earlier step's", async () => {
    // Some providers number tool calls per step (`call_0`, …): the denial is the second `call_0`.
    const { read, close: closeTeam } = await delegate(chargesAsCall0([50, 200], 'I charged cus_1 $50 but not $200.'));
    close = closeTeam;
    expect(read?.output.type).toBe('error-text');
    expect(String(read?.output.value)).toMatch(
      /^KEYBRAKE_CAP_EXCEEDED: .*\nThe member's last report: I charged cus_1 \$50 but not \$200\.$/s,
    );
  });

  it("should report the member as going on when its later call repeats the denied call's id and succeeds", async () => {
    const { read, close: closeTeam } = await delegate(chargesAsCall0([200, 50], 'Charged cus_1 $50.'));
    close = closeTeam;
    expect(read?.output).toEqual({
      type: 'text',
      value: expect.stringMatching(
        /^Charged cus_1 \$50\.\n\nKeybrake denied a call of this member during the run \(KEYBRAKE_CAP_EXCEEDED: .*\); the member went on afterwards\.$/s,
      ),
    });
  });

  it("should fail the delegation with the denial when the member's run then fails", async () => {
    const {
      read,
      fakeStripe,
      close: closeTeam,
    } = await delegate(
      () => ({ toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 200 } }] }),
      1,
    );
    close = closeTeam;
    expect(fakeStripe.moneyMoved()).toHaveLength(0);
    expect(read?.output.type).toBe('error-text');
    expect(String(read?.output.value)).toMatch(
      /^KEYBRAKE_CAP_EXCEEDED: .*\nThe member's run then failed: the model provider is overloaded$/s,
    );
  });
});
