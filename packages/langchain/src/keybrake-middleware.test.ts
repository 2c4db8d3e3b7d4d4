import { setTimeout as sleep } from 'node:timers/promises';
import { AIMessage, type BaseMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { type ClientTool, tool } from '@langchain/core/tools';
import { createAgent, toolErrorMiddleware, toolRetryMiddleware } from 'langchain';
import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { keybrakeMiddleware } from './keybrake-middleware.js';
import { parseKeybrakeDenials } from './parse-keybrake-denials.js';
import { callTools, repeatCall } from './test-utils/call-tools.js';
import { chargeTool, openTestTeam, type TestTeam, textTool } from './test-utils/open-test-team.js';

const brokenTool = tool(
  async () => {
    throw new Error('customer not found');
  },
  { name: 'lookup', description: 'Look up a customer.', schema: z.object({ id: z.string() }) },
);

describe('keybrakeMiddleware', () => {
  let context: TestTeam;
  beforeEach(async () => {
    context = await openTestTeam({
      members: {
        billing: {
          vendor: 'stripe',
          capUsd: 150,
          allowedEndpoints: ['POST /v1/payment_intents', 'GET /v1/customers/*'],
        },
        notifications: { vendor: 'twilio', capUsd: 0.02, shareKeysOf: ['billing'] },
      },
    });
  });
  afterEach(() => context.close());

  describe('when a member is stopped by its cap', () => {
    it('should give the model the cap error as a tool error and report it in the final message', async () => {
      const billing = context.team.member('billing');
      const [customer = ''] = context.customers;
      const model = fakeModel()
        .respond(repeatCall(3, 'charge_customer', { customer, amountUsd: 50 }))
        .respond(repeatCall(1, 'charge_customer', { customer, amountUsd: 50 }))
        .respond(new AIMessage('I charged $150 and could not charge the rest.'));
      const agent = createAgent({
        model,
        name: 'billing',
        tools: [chargeTool(billing)],
        middleware: [keybrakeMiddleware({ member: billing })],
      });

      const result = await agent.invoke({ messages: [{ role: 'user', content: 'Charge $50 four times.' }] });

      const toolErrors = (model.calls[2]?.messages ?? []).filter(
        (message) => ToolMessage.isInstance(message) && message.status === 'error',
      );
      expect(toolErrors).toHaveLength(1);
      expect(toolErrors[0]?.content).toMatch(
        /^KEYBRAKE_CAP_EXCEEDED: Keybrake denied this call: it would exceed this key's spending cap\. Budget \$150\.00, spent \$150\.00, in flight \$0\.00, this call \$50\.00\..*Retrying will not help/,
      );
      expect(toolErrors[0]?.content).not.toContain('Please fix your mistakes');
      const final = result.messages.at(-1);
      expect(final?.text).toMatch(
        /^I charged \$150 and could not charge the rest\.\n\nKeybrake denied 1 call of member "billing":\nKEYBRAKE_CAP_EXCEEDED: /,
      );
      expect(final?.text).toContain(
        'Budget of billing-team/sess_test/billing now: spent $150.00 of $150.00, $0.00 left.',
      );
      expect(parseKeybrakeDenials(final ? [final] : [])[0]?.toJSON()).toMatchObject({
        code: 'KEYBRAKE_CAP_EXCEEDED',
        label: 'billing-team/sess_test/billing',
        capUsd: 150,
        spentUsd: 150,
        attemptedUsd: 50,
      });
      expect(context.fakeStripe.moneyMoved()).toHaveLength(3);
      const { records } = await context.team.audit();
      expect(records.map((record) => record.decision).sort()).toEqual(['allowed', 'allowed', 'allowed', 'denied']);
      expect(records.every((record) => record.actor?.member === 'billing' && record.actor.toolCallId)).toBe(true);
      expect(JSON.stringify(result)).not.toContain('kb_test_');
    });
  });

  describe("when Twilio's SDK raises the denial", () => {
    it("should stream the denial as an error tool message in streamMode 'messages', and the final answer once", async () => {
      const billing = context.team.member('billing');
      const [customer = ''] = context.customers;
      const model = fakeModel()
        .respond(repeatCall(4, 'charge_customer', { customer, amountUsd: 50 }))
        .respond(new AIMessage('Charged what I could.'));
      const agent = createAgent({
        model,
        name: 'billing',
        tools: [chargeTool(billing)],
        middleware: [keybrakeMiddleware({ member: billing })],
      });
      const streamed: BaseMessage[] = [];
      let final: BaseMessage[] = [];
      const stream = await agent.stream(
        { messages: [{ role: 'user', content: 'go' }] },
        { streamMode: ['messages', 'values'] },
      );
      for await (const [mode, chunk] of stream) {
        if (mode === 'messages') streamed.push(chunk[0]);
        else final = chunk.messages;
      }
      const errors = streamed.filter((message) => ToolMessage.isInstance(message) && message.status === 'error');
      expect(parseKeybrakeDenials(errors).map((denial) => denial.code)).toEqual(['KEYBRAKE_CAP_EXCEEDED']);
      expect(streamed.filter((message) => message.text.startsWith('Charged what I could.'))).toHaveLength(1);
      // The report is in the state.
      expect(final.at(-1)?.text).toMatch(/^Charged what I could\.\n\nKeybrake denied 1 call/);
    });

    it('should turn its RestException into the tool error and keep the shared billing key working', async () => {
      const notifications = context.team.member('notifications');
      const [first = '', second = '', third = ''] = context.customers;
      const model = fakeModel()
        .respond(callTools([{ name: 'text_customer', args: { customer: first, body: 'Your invoice is paid.' } }]))
        .respond(callTools([{ name: 'text_customer', args: { customer: second, body: 'Your invoice is paid.' } }]))
        .respond(callTools([{ name: 'text_customer', args: { customer: third, body: 'Your invoice is paid.' } }]))
        .respond(new AIMessage('Two customers texted.'));
      const agent = createAgent({
        model,
        name: 'notifications',
        tools: [textTool(notifications)],
        middleware: [keybrakeMiddleware({ member: notifications })],
      });

      const result = await agent.invoke({ messages: [{ role: 'user', content: 'Text three customers.' }] });

      const last = model.calls[3]?.messages.at(-1);
      expect(ToolMessage.isInstance(last) && last.status).toBe('error');
      expect(last?.text).toMatch(/^KEYBRAKE_CAP_EXCEEDED: .*Budget \$0\.02/);
      expect(context.fakeTwilio.messages()).toHaveLength(2);
      expect(result.messages.at(-1)?.text).toContain('Keybrake denied 1 call of member "notifications":');
      const { records } = await context.team.audit();
      const lookups = records.filter((record) => record.vendor === 'stripe');
      expect(lookups).toHaveLength(3);
      expect(lookups.every((record) => record.actor?.member === 'notifications')).toBe(true);
    });
  });

  describe('when a tool fails for another reason', () => {
    it('should re-throw the error unchanged, which ends the run as LangChain does under any wrapToolCall middleware', async () => {
      const model = fakeModel().respond(callTools([{ name: 'lookup', args: { id: 'cus_x' } }]));
      const agent = createAgent({
        model,
        tools: [brokenTool],
        middleware: [keybrakeMiddleware({ member: 'billing' })],
      });

      await expect(agent.invoke({ messages: [{ role: 'user', content: 'Find cus_x.' }] })).rejects.toThrow(
        'customer not found',
      );
    });

    it('should let toolErrorMiddleware, placed first, hand the error to the model', async () => {
      const model = fakeModel()
        .respond(callTools([{ name: 'lookup', args: { id: 'cus_x' } }]))
        .respond(new AIMessage('Not found.'));
      const agent = createAgent({
        model,
        tools: [brokenTool],
        middleware: [
          toolErrorMiddleware({ onError: (error) => `Tool failed: ${String(error)}` }),
          keybrakeMiddleware({ member: 'billing' }),
        ],
      });

      await agent.invoke({ messages: [{ role: 'user', content: 'Find cus_x.' }] });

      expect(model.calls[1]?.messages.at(-1)?.content).toBe('Tool failed: Error: customer not found');
    });
  });

  describe('when a retry middleware is listed after it', () => {
    it('should not let the retry run a capped tool again: no charge is sent twice, and the model reads the denial', async () => {
      const billing = context.team.member('billing'); // $150
      const [first = '', second = ''] = context.customers;
      const stripe = new Stripe(billing.key('stripe').vaultKey, {
        httpClient: Stripe.createFetchHttpClient(billing.fetch('stripe')),
      });
      const chargeOrder = tool(
        async ({ customer }) => {
          const pay = (amount: number, payer: string) =>
            stripe.paymentIntents.create({
              amount,
              currency: 'usd',
              customer: payer,
              confirm: true,
              payment_method: 'pm_card_visa',
            });
          await pay(5000, customer);
          await pay(12_000, second); // $50 + $120 > $150: stopped by the cap
          return 'ok';
        },
        { name: 'charge_order', description: 'Charge an order.', schema: z.object({ customer: z.string() }) },
      );
      const model = fakeModel()
        .respond(callTools([{ name: 'charge_order', args: { customer: first } }]))
        .respond(new AIMessage('done'));
      const agent = createAgent({
        model,
        name: 'billing',
        tools: [chargeOrder],
        middleware: [
          keybrakeMiddleware({ member: billing }),
          toolRetryMiddleware({ maxRetries: 2, initialDelayMs: 0 }),
        ],
      });

      const result = await agent.invoke({ messages: [{ role: 'user', content: 'Charge the order.' }] });

      expect(context.fakeStripe.moneyMoved().map((movement) => movement.amount)).toEqual([5000]);
      const toolMessage = (model.calls[1]?.messages ?? []).find((message) => ToolMessage.isInstance(message));
      expect(String(toolMessage?.content)).toMatch(/^KEYBRAKE_CAP_EXCEEDED/);
      // The supervisor reads it in the member's final message.
      const final = result.messages.at(-1);
      expect(parseKeybrakeDenials(final ? [final] : []).map((denial) => denial.code)).toEqual([
        'KEYBRAKE_CAP_EXCEEDED',
      ]);
    });
  });

  describe('when a member run as a tool is stopped by a denial and then throws', () => {
    /**
     * ask_billing: runs the billing member on its scripted model, then `after` (the tool's own next
     * step); counts its runs.
     */
    function askBillingTool(
      model: ReturnType<typeof fakeModel>,
      options: { extraTools?: ClientTool[]; reportDenials?: boolean; after?: () => void } = {},
    ) {
      const billing = context.team.member('billing');
      const runs = { count: 0 };
      const askBilling = tool(
        async ({ task }) => {
          runs.count++;
          const member = createAgent({
            model,
            name: 'billing',
            tools: [chargeTool(billing), ...(options.extraTools ?? [])],
            middleware: [keybrakeMiddleware({ member: billing, reportDenials: options.reportDenials })],
          });
          const result = await member.invoke({ messages: [{ role: 'user', content: task }] });
          options.after?.();
          return result.messages.at(-1)?.text ?? '';
        },
        { name: 'ask_billing', description: 'Give billing a task.', schema: z.object({ task: z.string() }) },
      );
      return { askBilling, runs };
    }
    /** A supervisor that delegates once to ask_billing, under a retry middleware unless told otherwise. */
    function supervisorOf(askBilling: ClientTool, { retry = true } = {}) {
      const model = fakeModel()
        .respond(callTools([{ name: 'ask_billing', args: { task: 'Charge the customer.' } }]))
        .respond(new AIMessage('done'));
      const middleware = [keybrakeMiddleware({ member: 'supervisor', reportDenials: retry })];
      if (retry) middleware.push(toolRetryMiddleware({ maxRetries: 2, initialDelayMs: 0 }));
      const agent = createAgent({ model, name: 'supervisor', tools: [askBilling], middleware });
      return { model, invoke: () => agent.invoke({ messages: [{ role: 'user', content: 'Bill the customer.' }] }) };
    }
    const charge = (customer: string, amountUsd: number) => ({
      name: 'charge_customer',
      args: { customer, amountUsd },
    });

    it('should answer the tool call with the denial, so a retry middleware does not run the member (and its charges) again', async () => {
      const [customer = ''] = context.customers;
      const { askBilling, runs } = askBillingTool(
        fakeModel()
          .respond(callTools([charge(customer, 50)]))
          .respond(callTools([charge(customer, 120)])) // over the $150 cap
          .respond(new Error('model provider overloaded')),
      );
      const supervisor = supervisorOf(askBilling);

      await supervisor.invoke();

      expect(context.fakeStripe.moneyMoved().map((movement) => movement.amount)).toEqual([5000]);
      expect(runs.count).toBe(1);
      const toolMessage = (supervisor.model.calls[1]?.messages ?? []).find((message) =>
        ToolMessage.isInstance(message),
      );
      expect(String(toolMessage?.content)).toMatch(/^KEYBRAKE_CAP_EXCEEDED/);
    });

    it('should do so too when a parallel tool call of the same step ended after the denied one', async () => {
      const [customer = ''] = context.customers;
      const slowLookup = tool(async () => sleep(50, 'card on file'), {
        name: 'lookup_customer',
        description: 'Look up a customer.',
        schema: z.object({ customer: z.string() }),
      });
      const { askBilling, runs } = askBillingTool(
        fakeModel()
          .respond(callTools([charge(customer, 50)]))
          // Denied, and a lookup in the same step that ends 50 ms later: the member did not go on.
          .respond(callTools([charge(customer, 120), { name: 'lookup_customer', args: { customer } }]))
          .respond(new Error('model provider overloaded')),
        { extraTools: [slowLookup] },
      );

      await supervisorOf(askBilling).invoke();

      expect({ runs: runs.count, moved: context.fakeStripe.moneyMoved().map((movement) => movement.amount) }).toEqual({
        runs: 1,
        moved: [5000],
      });
    });

    it("should let the supervisor tool's own later error through when the member went on after its denial and finished", async () => {
      const [customer = ''] = context.customers;
      const { askBilling } = askBillingTool(
        fakeModel()
          .respond(callTools([charge(customer, 500)])) // denied
          .respond(callTools([charge(customer, 50)])) // went on: charged
          .respond(new AIMessage('Charged $50 instead.')),
        {
          reportDenials: false,
          after: () => {
            // The member is done; the tool's own, unrelated next step fails.
            throw new Error('CRM unavailable: could not save the billing note');
          },
        },
      );
      // Without a toolErrorMiddleware, LangChain hands a tool's error to the app.
      await expect(supervisorOf(askBilling, { retry: false }).invoke()).rejects.toThrow(/CRM unavailable/);
      expect(context.fakeStripe.moneyMoved()).toHaveLength(1);
    });
  });

  describe('when reportDenials is false', () => {
    it('should leave the final message as the model wrote it', async () => {
      const billing = context.team.member('billing');
      const [customer = ''] = context.customers;
      const model = fakeModel()
        .respond(repeatCall(1, 'charge_customer', { customer, amountUsd: 500 }))
        .respond(new AIMessage('That charge is over my budget.'));
      const agent = createAgent({
        model,
        tools: [chargeTool(billing)],
        middleware: [keybrakeMiddleware({ member: billing, reportDenials: false })],
      });

      const result = await agent.invoke({ messages: [{ role: 'user', content: 'Charge $500.' }] });

      expect(result.messages.at(-1)?.text).toBe('That charge is over my budget.');
      expect(context.fakeStripe.moneyMoved()).toHaveLength(0);
    });
  });
});
