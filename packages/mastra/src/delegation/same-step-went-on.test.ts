// A success in the same model step as a denial (a parallel call that Mastra's concurrency limit
// started after a faster denial, or a step's calls run one after another) is not the member going
// on: the model chose it before it read the denial. memberAsTool counts steps, as the AI SDK's does.
import { Agent } from '@mastra/core/agent';
import { createTool } from '@mastra/core/tools';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  createBillingAgent,
  createChargeTool,
  startBillingTeam,
  stripeFor,
  superviseOnce,
} from '../test-utils/billing-team.js';
import { type ScriptStep, scriptModel } from '../test-utils/script-model.js';
import { withKeybrake } from '../tools/with-keybrake.js';
import { type MemberAgent, memberAsTool } from './member-as-tool.js';

type Team = Awaited<ReturnType<typeof startBillingTeam>>;
const charge = (customer: string, amountCents: number) => ({
  toolName: 'chargeCustomer',
  input: { customer, amountCents },
});

describe('memberAsTool, a success in the same step as a denial', () => {
  let running: Team | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  // One model step: 10 charges of $200 (each over the $150 cap: denied at once) and one $1 charge,
  // which Mastra (10 calls at a time) starts after a denial freed its slot. Then the member's text.
  it('should report the member as stopped when the success ran in parallel, after a faster denial', async () => {
    running = await startBillingTeam();
    const oneStep: ScriptStep[] = [
      {
        toolCalls: [...Array.from({ length: 10 }, (_, n) => charge(`cus_big_${n}`, 20_000)), charge('cus_small', 100)],
      },
      { text: 'Most charges were refused by the spending cap.' },
    ];
    const output = await superviseOnce('askBilling', {
      tools: { askBilling: memberAsTool(createBillingAgent(running.team.member('billing'), oneStep)) },
    });
    expect(running.fakeStripe.moneyMoved()).toHaveLength(1);
    expect(output?.type).toBe('error-text');
    expect(String(output?.value)).toMatch(/^Keybrake stopped member "billing"/);
  });

  // A tool needing approval in the set makes Mastra run a step's tool calls one after another: the
  // denied call, then the $1 charge of the same step. The agent's own onStepFinish still runs.
  it('should report the member as stopped when the step ran its calls one after another, and keep its onStepFinish', async () => {
    running = await startBillingTeam();
    const billing = running.team.member('billing');
    const refund = createTool({
      id: 'refund',
      description: 'Refund a payment (needs a human to approve).',
      inputSchema: z.object({ paymentIntent: z.string() }),
      requireApproval: true,
      execute: async () => ({ ok: true }),
    });
    let stepsSeen = 0;
    const agent = new Agent({
      id: 'billing',
      name: 'billing',
      description: 'Charges customers.',
      instructions: 'Charge the customers you are given.',
      model: scriptModel([
        { toolCalls: [charge('cus_big', 20_000), charge('cus_small', 100)] },
        { text: 'The $200 charge was refused by the cap.' },
      ]).model,
      tools: withKeybrake({ chargeCustomer: createChargeTool(stripeFor(billing)), refund }, { member: billing }),
      defaultOptions: {
        onStepFinish: () => {
          stepsSeen += 1;
        },
      },
    });
    const output = await superviseOnce('askBilling', { tools: { askBilling: memberAsTool(agent) } });
    expect(running.fakeStripe.moneyMoved()).toHaveLength(1);
    expect(String(output?.value)).toMatch(/^Keybrake stopped member "billing"/);
    expect(stepsSeen).toBe(2);
  });
});

// A MemberAgent is anything with id, getDescription() and generate(): one whose generate() does not
// pass onStepFinish on counts no step, and is judged by time, as before steps were counted.
describe('memberAsTool with a member whose generate() does not pass onStepFinish on', () => {
  let running: Team | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('should not report a member that went on in a later step as stopped', async () => {
    running = await startBillingTeam();
    const inner = createBillingAgent(running.team.member('billing'), [
      { toolCalls: [charge('cus_1', 20_000)] }, // $200, over the $150 cap: denied
      { toolCalls: [charge('cus_1', 5_000)] }, // $50: allowed, in a later step
      { text: 'Charged cus_1 $50. Task complete.' },
    ]);
    const wrapper: MemberAgent = {
      id: inner.id,
      getDescription: () => inner.getDescription(),
      generate: (prompt, { requestContext, abortSignal }) => inner.generate(prompt, { requestContext, abortSignal }),
    };
    const output = await superviseOnce('askBilling', { tools: { askBilling: memberAsTool(wrapper) } });
    expect(running.fakeStripe.moneyMoved()).toHaveLength(1);
    expect(output?.type).toBe('json');
    expect(JSON.stringify(output?.value)).toContain('the member went on afterwards');
  });
});
