// A member stopped by Keybrake whose run then fails (its model provider gives up): the supervisor
// still reads the denial, and a workflow step's retries do not run the member (and its charge) again.
import { Agent } from '@mastra/core/agent';
import { createStep, createWorkflow } from '@mastra/core/workflows';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createChargeTool, startBillingTeam, stripeFor, superviseOnce } from '../test-utils/billing-team.js';
import { scriptModel } from '../test-utils/script-model.js';
import { withKeybrake } from '../tools/with-keybrake.js';
import { memberAsTool } from './member-as-tool.js';

type Team = Awaited<ReturnType<typeof startBillingTeam>>;

/**
 * billing: charges $50, then $120 (over its $150 cap: denied), then — if it `goesOn` — $10, and
 * then its model provider fails.
 */
function failingBilling(team: Team['team'], { goesOn = false } = {}) {
  const member = team.member('billing');
  const amounts = goesOn ? [5000, 12_000, 1000] : [5000, 12_000];
  // Each run starts over: the step is how many tool results the run's prompt holds.
  const model = scriptModel((call) => {
    const amountCents = amounts[call.prompt.filter((message) => message.role === 'tool').length];
    if (amountCents !== undefined)
      return { toolCalls: [{ toolName: 'chargeCustomer', input: { customer: 'cus_1', amountCents } }] };
    throw new Error('the model provider is overloaded');
  });
  return new Agent({
    id: 'billing',
    name: 'billing',
    description: 'Charges customers.',
    instructions: 'Charge the customers you are given.',
    model: model.model,
    tools: withKeybrake({ chargeCustomer: createChargeTool(stripeFor(member)) }, { member }),
  });
}

describe('memberAsTool, when the member is stopped by a denial and its run then fails', () => {
  let running: Team | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it("should still tell the supervisor's model that Keybrake stopped the member", async () => {
    running = await startBillingTeam();
    const output = await superviseOnce(
      'askBilling',
      { tools: { askBilling: memberAsTool(failingBilling(running.team)) } },
      'Charge cus_1.',
    );
    expect(String(output?.value)).toMatch(
      /Keybrake stopped member "billing"[^\n]*The member's run then failed: the model provider is overloaded[\s\S]*KEYBRAKE_CAP_EXCEEDED/,
    );
  });

  it('should tell the supervisor of the denial beside the failure when the member went on after it', async () => {
    running = await startBillingTeam();
    const output = await superviseOnce(
      'askBilling',
      { tools: { askBilling: memberAsTool(failingBilling(running.team, { goesOn: true })) } },
      'Charge cus_1.',
    );
    const text = String(output?.value);
    expect(text).toMatch(/The member's run then failed: the model provider is overloaded/);
    expect(text).toMatch(/KEYBRAKE_CAP_EXCEEDED/);
    expect(text).not.toMatch(/Keybrake stopped member/);
    expect(running.fakeStripe.moneyMoved().map((payment) => payment.amount)).toEqual([5000, 1000]);
  });

  it('should fail a workflow step with retries at once, not run the member (and its charge) again', async () => {
    running = await startBillingTeam();
    const ask = memberAsTool(failingBilling(running.team));
    // A step delegating to the member through the tool (memberAsTool has no outputSchema, so it is
    // called from a step of its own).
    const delegate = createStep({
      id: 'delegate-billing',
      inputSchema: z.object({ prompt: z.string() }),
      outputSchema: z.object({ text: z.string() }),
      retries: 2,
      execute: async ({ inputData, requestContext }) =>
        (await ask.execute?.(inputData, { requestContext } as never)) as { text: string },
    });
    const workflow = createWorkflow({
      id: 'bill',
      inputSchema: z.object({ prompt: z.string() }),
      outputSchema: z.object({ text: z.string() }),
    })
      .then(delegate)
      .commit();
    await (await workflow.createRun()).start({ inputData: { prompt: 'Charge cus_1.' } });
    expect(running.fakeStripe.moneyMoved().map((payment) => payment.amount)).toEqual([5000]);
  });
});
