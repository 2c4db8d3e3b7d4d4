import { Agent } from '@mastra/core/agent';
import { MockMemory } from '@mastra/core/memory';
import { createTool } from '@mastra/core/tools';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { keybrakeNetworkInstructions } from '../delegation/keybrake-network.js';
import { billingTeamPlan, createBillingAgent, startBillingTeam, stripeFor } from '../test-utils/billing-team.js';
import { type ModelCall, scriptModel } from '../test-utils/script-model.js';
import { withKeybrake } from '../tools/with-keybrake.js';

type Team = Awaited<ReturnType<typeof startBillingTeam>>;
const tenDollarPlan = {
  ...billingTeamPlan,
  members: { billing: { vendor: 'stripe' as const, capUsd: 10, allowedEndpoints: ['POST /v1/payment_intents'] } },
};
const route = (primitiveId: string, primitiveType: string, prompt: string) => ({
  text: JSON.stringify({ primitiveId, primitiveType, prompt, selectionReason: 'because' }),
});
const promptText = (call: ModelCall | undefined) => JSON.stringify(call?.prompt ?? '');
const isCheck = (call: ModelCall) => JSON.stringify(call.responseFormat ?? '').includes('isComplete');
/** A routing model: first picks `first`, then (after one "not complete" check) picks none; completion checks say done on the second. */
function router(first: { text: string }) {
  const routingCalls: ModelCall[] = [];
  let checks = 0;
  const scripted = scriptModel((call) => {
    if (isCheck(call)) {
      checks++;
      return { text: JSON.stringify({ isComplete: checks > 1, completionReason: 'checked', finalResult: 'ok' }) };
    }
    routingCalls.push(call);
    return routingCalls.length === 1 ? first : route('none', 'none', '');
  });
  return { ...scripted, routingCalls };
}

describe('agent networks (agent.network())', () => {
  let running: Team | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('a network-level capped tool: the denial is a result the routing agent reads, and the run completes', async () => {
    running = await startBillingTeam(tenDollarPlan);
    const stripe = stripeFor(running.team.member('billing'));
    const charge = createTool({
      id: 'charge',
      description: 'Charge a customer',
      inputSchema: z.object({ amountCents: z.number() }),
      execute: async ({ amountCents }) => {
        const intent = await stripe.paymentIntents.create({
          amount: amountCents,
          currency: 'usd',
          confirm: true,
          payment_method: 'pm_card_visa',
        });
        return { id: intent.id };
      },
    });
    const routing = router(route('charge', 'tool', JSON.stringify({ amountCents: 5000 })));
    const calls = routing.routingCalls;
    const network = new Agent({
      id: 'network',
      name: 'network',
      instructions: 'Route.',
      model: routing.model,
      tools: withKeybrake({ charge }, { member: 'billing' }),
      memory: new MockMemory(),
    });
    const stream = await network.network('Charge $50.', { memory: { thread: 't1', resource: 'r1' }, maxSteps: 3 });
    const types: string[] = [];
    for await (const chunk of stream) types.push(chunk.type);
    expect(await stream.status).toBe('success');
    expect(types).toContain('tool-execution-end');
    expect(promptText(calls[1])).toContain('KEYBRAKE_CAP_EXCEEDED');
    expect(running.fakeStripe.moneyMoved()).toHaveLength(0);
  });

  it("a member's denial reaches the routing agent", async () => {
    running = await startBillingTeam(tenDollarPlan);
    const billing = createBillingAgent(running.team.member('billing'), [
      { toolCalls: [{ toolName: 'chargeCustomer', input: { customer: 'cus_1', amountCents: 5000 } }] },
      { text: 'All done.' },
    ]);
    const routing = router(route('billing', 'agent', 'Charge cus_1 $50.'));
    const calls = routing.routingCalls;
    const network = new Agent({
      id: 'network',
      name: 'network',
      instructions: keybrakeNetworkInstructions('Route.'),
      model: routing.model,
      agents: { billing },
      memory: new MockMemory(),
    });
    const stream = await network.network('Charge cus_1 $50.', {
      memory: { thread: 't2', resource: 'r2' },
      maxSteps: 3,
    });
    for await (const _ of stream) {
      // drain
    }
    expect(await stream.status).toBe('success');
    expect(JSON.stringify(routing.prompts[1])).toContain('KEYBRAKE_CAP_EXCEEDED'); // the completion check
    expect(promptText(calls[1])).toContain('KEYBRAKE_CAP_EXCEEDED');
  });
});
