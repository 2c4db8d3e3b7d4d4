import { CapExceededError, type KeybrakeError } from '@keybrake/core';
import { AIMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { createAgent } from 'langchain';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { callTools, repeatCall } from './test-utils/call-tools.js';
import { chargeTool, openTestTeam, type TestTeam } from './test-utils/open-test-team.js';
import { withKeybrake } from './with-keybrake.js';

describe('withKeybrake', () => {
  let context: TestTeam;
  beforeEach(async () => {
    context = await openTestTeam();
  });
  afterEach(() => context.close());

  describe('when a member charges past its cap in parallel tool calls', () => {
    it('should answer the over-cap call with a tool error the model reads next, and charge only what the cap allows', async () => {
      const billing = context.team.member('billing');
      const [customer = ''] = context.customers;
      const charges = repeatCall(4, 'charge_customer', { customer, amountUsd: 50 });
      const model = fakeModel()
        .respond(charges)
        .respond(new AIMessage('Three charges went through; the fourth was stopped by the spending cap.'));
      const agent = createAgent({
        model,
        name: 'billing',
        tools: withKeybrake([chargeTool(billing)], { member: billing }),
      });

      const result = await agent.invoke({
        messages: [{ role: 'user', content: 'Charge the customer $50 four times.' }],
      });

      const seen = model.calls[1]?.messages ?? [];
      const errors = seen.filter((message) => ToolMessage.isInstance(message) && message.status === 'error');
      expect(errors).toHaveLength(1);
      const denial = errors[0] as ToolMessage;
      expect(denial.content).toMatch(
        /^KEYBRAKE_CAP_EXCEEDED: Keybrake denied this call: .*Budget \$150\.00, .*this call \$50\.00/,
      );
      expect(denial.content).toContain('Retrying will not help');
      expect(denial.content).toContain('"label":"billing-team/sess_test/billing"');
      expect(denial.content).not.toContain('Please fix your mistakes');
      expect(denial.name).toBe('charge_customer');
      expect(result.messages.at(-1)?.text).toContain('stopped by the spending cap');

      expect(context.fakeStripe.moneyMoved()).toHaveLength(3);
      expect((await billing.status()).spentUsd).toBe(150);
      const { records } = await context.team.audit();
      expect(records.filter((record) => record.decision === 'denied')).toHaveLength(1);
      expect(records.map((record) => record.actor?.toolCallId).sort()).toEqual(
        charges.tool_calls?.map((call) => call.id).sort(),
      );
      expect(
        records.every((record) => record.actor?.member === 'billing' && record.actor.tool === 'charge_customer'),
      ).toBe(true);
      expect(JSON.stringify(result)).not.toContain('kb_test_');
      expect(JSON.stringify(model.calls)).not.toContain('kb_test_');
    });
  });

  describe('when a tool fails for another reason', () => {
    it('should leave the error to LangChain, which hands it to the model as usual', async () => {
      const broken = tool(
        async () => {
          throw new Error('customer not found');
        },
        { name: 'lookup', description: 'Look up a customer.', schema: z.object({ id: z.string() }) },
      );
      const model = fakeModel()
        .respond(callTools([{ name: 'lookup', args: { id: 'cus_x' } }]))
        .respond(new AIMessage('Not found.'));
      const agent = createAgent({ model, tools: withKeybrake([broken], { member: 'billing' }) });

      await agent.invoke({ messages: [{ role: 'user', content: 'Find cus_x.' }] });

      const error = model.calls[1]?.messages.find((message) => ToolMessage.isInstance(message));
      expect(error?.content).toBe('Error: customer not found\n Please fix your mistakes.');
    });
  });

  describe('when a capped tool is invoked outside an agent', () => {
    it('should throw the typed denial with the SDK error as its cause', async () => {
      const billing = context.team.member('billing');
      const [charge] = withKeybrake([chargeTool(billing)], { member: 'billing' });
      const [customer = ''] = context.customers;
      await charge?.invoke({ customer, amountUsd: 150 });

      const error = await charge?.invoke({ customer, amountUsd: 1 }).catch((caught: unknown) => caught);

      expect(error).toBeInstanceOf(CapExceededError);
      expect((error as KeybrakeError).cause).toMatchObject({ type: 'StripeRateLimitError' });
      expect(charge?.name).toBe('charge_customer');
    });
  });
});
