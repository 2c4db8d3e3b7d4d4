// A supervisor of supervisors: top agent → "operations" (an agent whose tools are members) →
// "billing" (a member stopped by its cap). The top agent must learn of billing's stop even when
// the middle agent's model says nothing about it.
import { AIMessage, type BaseMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { createAgent } from 'langchain';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { keybrakeMiddleware } from './keybrake-middleware.js';
import { parseKeybrakeDenials } from './parse-keybrake-denials.js';
import { callTools, repeatCall } from './test-utils/call-tools.js';
import { chargeTool, openTestTeam, type TestTeam } from './test-utils/open-test-team.js';

type Agent = {
  invoke: (input: { messages: { role: string; content: string }[] }) => Promise<{ messages: { text: string }[] }>;
};
const asTool = (agent: Agent, name: string) =>
  tool(
    async ({ task }) => {
      const result = await agent.invoke({ messages: [{ role: 'user', content: task }] });
      return result.messages.at(-1)?.text ?? '';
    },
    { name: `ask_${name}`, description: `Give ${name} a task.`, schema: z.object({ task: z.string() }) },
  );

/** Runs `operations` as the one tool of a top agent; what the top agent's model read back, and the result. */
const runUnderTop = async (operations: Agent, task: string) => {
  const topModel = fakeModel()
    .respond(callTools([{ name: 'ask_operations', args: { task } }]))
    .respond(new AIMessage('ok'));
  const top = createAgent({
    model: topModel,
    name: 'top',
    tools: [asTool(operations, 'operations')],
    middleware: [keybrakeMiddleware({ member: 'top' })],
  });
  const result = await top.invoke({ messages: [{ role: 'user', content: 'Run the month.' }] });
  return { result, answer: topModel.calls[1]?.messages.at(-1) };
};

describe('keybrakeMiddleware in a team three levels deep', () => {
  let context: TestTeam | undefined;
  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  it('should carry a stopped member’s report through a middle agent that says nothing of it', async () => {
    context = await openTestTeam();
    const billing = context.team.member('billing');
    const [customer = ''] = context.customers;
    const billingAgent = createAgent({
      model: fakeModel()
        .respond(repeatCall(4, 'charge_customer', { customer, amountUsd: 50 }))
        .respond(new AIMessage('Charged 3 customers.')),
      name: 'billing',
      tools: [chargeTool(billing)],
      middleware: [keybrakeMiddleware({ member: billing })],
    });
    const operations = createAgent({
      model: fakeModel()
        .respond(callTools([{ name: 'ask_billing', args: { task: 'Charge 4 × $50.' } }]))
        .respond(new AIMessage('All done.')),
      name: 'operations',
      tools: [asTool(billingAgent, 'billing')],
      middleware: [keybrakeMiddleware({ member: 'operations' })],
    });

    const { result, answer } = await runUnderTop(operations, 'Run billing.');

    expect(ToolMessage.isInstance(answer) && answer.name).toBe('ask_operations');
    expect(answer?.text).toMatch(/^All done\.\n\n/);
    expect(answer?.text).toContain('Keybrake denied 1 call of member "billing":');
    expect(answer?.text).toContain('Budget of billing-team/sess_test/billing now: spent $150.00 of $150.00');
    expect(parseKeybrakeDenials(answer ? [answer] : []).map((d) => [d.code, d.toJSON().label])).toEqual([
      ['KEYBRAKE_CAP_EXCEEDED', 'billing-team/sess_test/billing'],
    ]);
    // and the top agent's own final message carries it one level further
    expect(result.messages.at(-1)?.text).toBe(`ok\n\n${answer?.text.slice('All done.\n\n'.length)}`);
    expect(context.fakeStripe.moneyMoved()).toHaveLength(3);
  });

  it("should not take a tool's text that only quotes a report's first line for a report", async () => {
    const ticket = tool(
      async () =>
        'Ticket #42 (from last week):\nKeybrake denied 1 call of member "billing": the cap was hit.\nThe customer asks why.',
      { name: 'read_ticket', description: 'Read a support ticket.', schema: z.object({}) },
    );
    const agent = createAgent({
      model: fakeModel()
        .respond(callTools([{ name: 'read_ticket', args: {} }]))
        .respond(new AIMessage('Replied to ticket #42.')),
      name: 'support',
      tools: [ticket],
      middleware: [keybrakeMiddleware({ member: 'support' })],
    });

    const result = await agent.invoke({ messages: [{ role: 'user', content: 'Handle ticket 42.' }] });

    expect(result.messages.at(-1)?.text).toBe('Replied to ticket #42.');
  });

  it("should carry another member's report when the middle agent's answer quotes one member's denial", async () => {
    context = await openTestTeam({
      capUsd: 1000,
      members: {
        billing: { vendor: 'stripe', capUsd: 150, allowedEndpoints: ['POST /v1/payment_intents'] },
        sales: { vendor: 'stripe', capUsd: 100, allowedEndpoints: ['POST /v1/payment_intents'] },
      },
    });
    const [customer = ''] = context.customers;
    const memberAgent = (name: string, calls: number, amountUsd: number) =>
      createAgent({
        model: fakeModel()
          .respond(repeatCall(calls, 'charge_customer', { customer, amountUsd }))
          .respond(new AIMessage('Finished.')),
        name,
        tools: [chargeTool(context!.team.member(name))],
        middleware: [keybrakeMiddleware({ member: name })],
      });
    const operations = createAgent({
      model: fakeModel()
        .respond(
          callTools([
            { name: 'ask_billing', args: { task: 'Charge 4 × $50.' } },
            { name: 'ask_sales', args: { task: 'Charge $500.' } },
          ]),
        )
        // The model quotes billing's denial line in its answer (as models told to report do).
        .respond((messages: BaseMessage[]) => {
          const billing = messages.find((m) => ToolMessage.isInstance(m) && m.name === 'ask_billing');
          const line = billing?.text.split('\n').find((l) => l.startsWith('{"code":'));
          return new AIMessage(`Billing was capped:\n${line}\nSales is done.`);
        }),
      name: 'operations',
      tools: [asTool(memberAgent('billing', 4, 50), 'billing'), asTool(memberAgent('sales', 1, 500), 'sales')],
      middleware: [keybrakeMiddleware({ member: 'operations' })],
    });

    const { answer } = await runUnderTop(operations, 'Run billing and sales.');

    const labels = parseKeybrakeDenials(answer ? [answer] : []).map((d) => d.toJSON().label);
    expect(labels).toContain('billing-team/sess_test/billing');
    // sales was stopped too: the top agent must read it
    expect(labels).toContain('billing-team/sess_test/sales');
  });
});
