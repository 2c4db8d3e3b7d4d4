import { AIMessage, type BaseMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { createSupervisor } from '@langchain/langgraph-supervisor';
import { createAgent } from 'langchain';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { keybrakeMiddleware } from './keybrake-middleware.js';
import { parseKeybrakeDenials } from './parse-keybrake-denials.js';
import { callTools, repeatCall } from './test-utils/call-tools.js';
import { chargeTool, openTestTeam, type TestTeam } from './test-utils/open-test-team.js';

/** A supervisor turn that reads the denials it was handed and says what it does about them. */
const react = (messages: BaseMessage[]) => {
  const denials = parseKeybrakeDenials(messages).map((denial) => denial.toJSON());
  const stopped = [...new Set(denials.map((denial) => `${String(denial.code)} (${String(denial.label)})`))];
  return new AIMessage(
    stopped.length > 0 ? `Stopping the billing run: ${stopped.join(', ')}. Escalating to a human.` : 'All done.',
  );
};

/** A confused billing member: charges 40 customers $5 each in one turn, then summarises. */
function confusedBilling(context: TestTeam, name = 'billing') {
  const member = context.team.member(name);
  const [customer = ''] = context.customers;
  const model = fakeModel()
    .respond(repeatCall(40, 'charge_customer', { customer, amountUsd: 5 }))
    .respond((messages) => {
      const charged = messages.filter(
        (message) =>
          ToolMessage.isInstance(message) && message.name === 'charge_customer' && message.status !== 'error',
      );
      return new AIMessage(`Charged ${charged.length} customers.`);
    });
  const agent = createAgent({
    model,
    name,
    description: `The ${name} member: charges customers.`,
    tools: [chargeTool(member)],
    middleware: [keybrakeMiddleware({ member })],
  });
  return { agent, model };
}

/** The member-as-tool pattern: the supervisor calls the member's agent and reads its final message. */
const asTool = (agent: ReturnType<typeof confusedBilling>['agent'], name: string) =>
  tool(
    async ({ task }) => {
      const result = await agent.invoke({ messages: [{ role: 'user', content: task }] });
      return result.messages.at(-1)?.text ?? '';
    },
    { name: `ask_${name}`, description: `Give the ${name} member a task.`, schema: z.object({ task: z.string() }) },
  );

describe('keybrakeMiddleware', () => {
  let context: TestTeam | undefined;
  afterEach(() => context?.close());

  describe('when a member stopped by its cap hands back to createSupervisor', () => {
    it("should put the structured cap error with the member's label in the supervisor's transcript", async () => {
      context = await openTestTeam();
      const billing = confusedBilling(context);
      const model = fakeModel()
        .respond(callTools([{ name: 'transfer_to_billing', args: {} }]))
        .respond(react);
      const supervisor = createSupervisor({ agents: [billing.agent.graph], llm: model }).compile();

      const result = await supervisor.invoke({ messages: [{ role: 'user', content: 'Charge our 4 customers $5.' }] });

      const handedBack = (model.calls[1]?.messages ?? []).find(
        (message) => AIMessage.isInstance(message) && message.name === 'billing' && message.text.startsWith('Charged'),
      );
      expect(handedBack?.text).toMatch(
        /^Charged 30 customers\.\n\nKeybrake denied 10 calls of member "billing":\nKEYBRAKE_CAP_EXCEEDED: Keybrake denied this call: it would exceed this key's spending cap\./,
      );
      expect(handedBack?.text).toContain(
        'Budget of billing-team/sess_test/billing now: spent $150.00 of $150.00, $0.00 left.',
      );
      expect(parseKeybrakeDenials(handedBack ? [handedBack] : [])[0]?.toJSON()).toMatchObject({
        code: 'KEYBRAKE_CAP_EXCEEDED',
        label: 'billing-team/sess_test/billing',
        capUsd: 150,
        attemptedUsd: 5,
      });
      expect(result.messages.at(-1)?.text).toBe(
        'Stopping the billing run: KEYBRAKE_CAP_EXCEEDED (billing-team/sess_test/billing). Escalating to a human.',
      );
      expect(
        billing.model.calls[1]?.messages.filter(
          (message) => ToolMessage.isInstance(message) && message.status === 'error',
        ),
      ).toHaveLength(10);
      expect(context.fakeStripe.moneyMoved()).toHaveLength(30);
      expect((await context.team.status()).spentUsd).toBe(150);
      expect(JSON.stringify([result, model.calls, billing.model.calls])).not.toContain('kb_test_');
    });
  });

  describe('when a member stopped by its cap runs as a tool of a supervisor agent', () => {
    it("should answer the supervisor's tool call with the member's report", async () => {
      context = await openTestTeam();
      const billing = confusedBilling(context);
      const model = fakeModel()
        .respond(callTools([{ name: 'ask_billing', args: { task: 'Charge our 4 customers $5.' } }]))
        .respond(react);
      const supervisor = createAgent({ model, name: 'supervisor', tools: [asTool(billing.agent, 'billing')] });

      const result = await supervisor.invoke({ messages: [{ role: 'user', content: 'Bill our customers.' }] });

      const answer = model.calls[1]?.messages.at(-1);
      expect(ToolMessage.isInstance(answer) && answer.name).toBe('ask_billing');
      expect(answer?.text).toMatch(
        /^Charged 30 customers\.\n\nKeybrake denied 10 calls of member "billing":\nKEYBRAKE_CAP_EXCEEDED: /,
      );
      expect(answer?.text).toContain('"label":"billing-team/sess_test/billing"');
      expect(answer?.text).toContain(
        'Budget of billing-team/sess_test/billing now: spent $150.00 of $150.00, $0.00 left.',
      );
      expect(result.messages.at(-1)?.text).toContain('KEYBRAKE_CAP_EXCEEDED (billing-team/sess_test/billing)');
      expect(context.fakeStripe.moneyMoved()).toHaveLength(30);
      expect(JSON.stringify([result, model.calls, billing.model.calls])).not.toContain('kb_test_');
    });
  });

  describe('when two members charge in parallel under one session cap', () => {
    it('should never let the team spend more than the session cap', async () => {
      const plan = { vendor: 'stripe', capUsd: 150, allowedEndpoints: ['POST /v1/payment_intents'] };
      context = await openTestTeam({ capUsd: 200, members: { billing: plan, collections: plan } });
      const billing = confusedBilling(context, 'billing');
      const collections = confusedBilling(context, 'collections');
      const model = fakeModel()
        .respond(
          callTools([
            { name: 'ask_billing', args: { task: 'Charge everyone $5.' } },
            { name: 'ask_collections', args: { task: 'Charge everyone $5.' } },
          ]),
        )
        .respond(react);
      const supervisor = createAgent({
        model,
        tools: [asTool(billing.agent, 'billing'), asTool(collections.agent, 'collections')],
      });

      await supervisor.invoke({ messages: [{ role: 'user', content: 'Collect from everyone.' }] });

      expect(context.fakeStripe.moneyMoved()).toHaveLength(40);
      expect(context.fakeStripe.moneyMoved().reduce((sum, movement) => sum + movement.amount, 0)).toBe(200_00);
      expect((await context.team.status()).spentUsd).toBe(200);
      const { totals } = await context.team.audit();
      expect(totals.reduce((sum, total) => sum + total.allowed, 0)).toBe(40);
      expect(totals.reduce((sum, total) => sum + total.denied, 0)).toBe(40);
      expect(totals.every((total) => total.spentMicros <= 150_000_000)).toBe(true);
      const answers = (model.calls[1]?.messages ?? []).filter((message) => ToolMessage.isInstance(message));
      expect(
        answers.map((answer) => answer.text.match(/Keybrake denied \d+ calls? of member "(\w+)"/)?.[1]).sort(),
      ).toEqual(['billing', 'collections']);
    });
  });
});
