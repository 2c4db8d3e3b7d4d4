// A member tool that catches Keybrake's denial (the official SDK's error) and returns it as a
// value: Mastra records a successful tool call, but the supervisor must still read the denial.
import { Agent } from '@mastra/core/agent';
import { createTool } from '@mastra/core/tools';
import type Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { chargeIntent, startBillingTeam, stripeFor, superviseOnce } from '../test-utils/billing-team.js';
import { type ScriptStep, scriptModel } from '../test-utils/script-model.js';
import { withKeybrake } from '../tools/with-keybrake.js';
import { keybrakeDelegation } from './keybrake-delegation.js';
import { memberAsTool } from './member-as-tool.js';

type Team = Awaited<ReturnType<typeof startBillingTeam>>;

/** A charge tool that answers any failure as its result, as many hand-written tools do. */
const forgivingCharge = (stripe: Stripe) =>
  createTool({
    id: 'charge-customer',
    description: 'Charge a customer in US cents.',
    inputSchema: z.object({ customer: z.string(), amountCents: z.number().int().positive() }),
    execute: async ({ customer, amountCents }) => {
      try {
        const intent = await chargeIntent(stripe, customer, amountCents);
        return { ok: true, id: intent.id };
      } catch (error) {
        return { ok: false, error: (error as Error).message };
      }
    },
  });

const charge = (customer: string, amountCents: number) => ({
  toolName: 'chargeCustomer',
  input: { customer, amountCents },
});
const stoppedThere: ScriptStep[] = [
  { toolCalls: [charge('cus_1', 20_000)] }, // $200, over the $150 cap: denied, answered as the result
  { text: 'I could not charge cus_1.' },
];
const wentOn: ScriptStep[] = [
  { toolCalls: [charge('cus_1', 20_000)] },
  { toolCalls: [charge('cus_1', 5_000)] },
  { text: 'Charged cus_1 $50.' },
];

const member = (team: Team['team'], steps: ScriptStep[]) => {
  const billing = team.member('billing');
  return new Agent({
    id: 'billing',
    name: 'billing',
    description: 'Charges customers with Stripe.',
    instructions: 'Charge the customers you are given.',
    model: scriptModel(steps).model,
    tools: withKeybrake({ chargeCustomer: forgivingCharge(stripeFor(billing)) }, { member: billing }),
  });
};

describe('a member tool that answers its denial as its result', () => {
  let running: Team | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('keybrakeDelegation should report the member as stopped, or as going on after a later call', async () => {
    running = await startBillingTeam();
    const delegate = (steps: ScriptStep[]) =>
      superviseOnce('agent-billing', {
        agents: { billing: member((running as Team).team, steps) },
        defaultOptions: { delegation: keybrakeDelegation() },
      });
    expect(String((await delegate(stoppedThere))?.value)).toMatch(
      /^I could not charge cus_1\.\n\nKeybrake stopped member "billing" \(tool "chargeCustomer", 1 call denied\)\.\nKEYBRAKE_CAP_EXCEEDED: /,
    );
    expect(running.fakeStripe.moneyMoved()).toHaveLength(0);
    expect(String((await delegate(wentOn))?.value)).toMatch(
      /^Charged cus_1 \$50\.\n\nKeybrake denied a call of member "billing" during the run \(KEYBRAKE_CAP_EXCEEDED: .*\); the member went on afterwards\.$/s,
    );
    expect(running.fakeStripe.moneyMoved()).toHaveLength(1);
  });

  it('memberAsTool should fail the delegation when the member stopped there', async () => {
    running = await startBillingTeam();
    const output = await superviseOnce('askBilling', {
      tools: { askBilling: memberAsTool(member(running.team, stoppedThere)) },
    });
    expect(String(output?.value)).toMatch(
      /^Keybrake stopped member "billing" \(tool "chargeCustomer", 1 call denied\)\. Its last reply: "I could not charge cus_1\."\nKEYBRAKE_CAP_EXCEEDED: /,
    );
    expect(running.fakeStripe.moneyMoved()).toHaveLength(0);
  });
});
