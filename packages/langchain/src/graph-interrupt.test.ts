// A tool that handles a cap denial by asking a human (LangGraph's interrupt()) must pause the graph,
// with either adapter: the interrupt is control flow, not a failure to turn into the denial.
import { findKeybrakeError } from '@keybrake/core';
import { AIMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { interrupt, MemorySaver } from '@langchain/langgraph';
import { createAgent } from 'langchain';
import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { keybrakeMiddleware } from './keybrake-middleware.js';
import { callTools } from './test-utils/call-tools.js';
import { openTestTeam, type TestTeam } from './test-utils/open-test-team.js';
import { withKeybrake } from './with-keybrake.js';

type Member = ReturnType<TestTeam['team']['member']>;

describe('a LangGraph interrupt() raised after a denial the tool handled', () => {
  let context: TestTeam;
  beforeEach(async () => {
    context = await openTestTeam({ members: { billing: { vendor: 'stripe', capUsd: 150 } } });
  });
  afterEach(() => context.close());

  /** Charges; over the cap, asks a human whether to go on. */
  const escalatingCharge = (stripe: Stripe) =>
    tool(
      async ({ customer, amountUsd }) => {
        try {
          const intent = await stripe.paymentIntents.create({
            amount: amountUsd * 100,
            currency: 'usd',
            customer,
            confirm: true,
            payment_method: 'pm_card_visa',
          });
          return `Charged ${intent.id}`;
        } catch (error) {
          if (!findKeybrakeError(error)) throw error;
          return `Human said: ${String(interrupt({ question: `Over budget: approve $${amountUsd} for ${customer}?` }))}`;
        }
      },
      {
        name: 'charge_customer',
        description: 'Charge a customer.',
        schema: z.object({ customer: z.string(), amountUsd: z.number() }),
      },
    );
  const setups = {
    withKeybrake: (billing: Member, charge: ReturnType<typeof escalatingCharge>) => ({
      tools: withKeybrake([charge], { member: billing }),
    }),
    keybrakeMiddleware: (billing: Member, charge: ReturnType<typeof escalatingCharge>) => ({
      tools: [charge],
      middleware: [keybrakeMiddleware({ member: billing })],
    }),
  };

  for (const [name, setup] of Object.entries(setups)) {
    it(`should pause the graph for the human (${name})`, async () => {
      const billing = context.team.member('billing');
      const stripe = new Stripe(billing.key('stripe').vaultKey, {
        httpClient: Stripe.createFetchHttpClient(billing.fetch('stripe')),
      });
      const [customer = ''] = context.customers;
      const model = fakeModel()
        .respond(callTools([{ name: 'charge_customer', args: { customer, amountUsd: 200 } }]))
        .respond(new AIMessage('ok'));
      const agent = createAgent({
        model,
        checkpointer: new MemorySaver(),
        ...setup(billing, escalatingCharge(stripe)),
      });
      const result = await agent.invoke(
        { messages: [{ role: 'user', content: 'Charge $200.' }] },
        { configurable: { thread_id: `interrupt-${name}` } },
      );
      expect(model.calls).toHaveLength(1);
      expect(result.__interrupt__?.[0]?.value).toEqual({ question: `Over budget: approve $200 for ${customer}?` });
      // The denial itself was still audited.
      const { records } = await context.team.audit();
      expect(records.map((record) => record.reason)).toContain('KEYBRAKE_CAP_EXCEEDED');
    });
  }
});
