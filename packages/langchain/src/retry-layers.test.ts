import { tool } from '@langchain/core/tools';
import { Annotation, END, START, StateGraph } from '@langchain/langgraph';
import Stripe from 'stripe';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CapExceededError, findKeybrakeError } from './index.js';
import { openTestTeam, type TestTeam } from './test-utils/open-test-team.js';
import { withKeybrake } from './with-keybrake.js';

// The README's recipes for retry layers outside the agent, which see a denial as a thrown error.
describe('retry layers around a capped tool invoked outside a tool call', () => {
  let context: TestTeam;
  beforeEach(async () => {
    context = await openTestTeam();
  });
  afterEach(() => context.close());

  /** charge_order: $50 for the first customer, then $120 for the second ($170 > the $150 cap). */
  function chargeOrder() {
    const billing = context.team.member('billing');
    const [first = '', second = ''] = context.customers;
    const stripe = new Stripe(billing.key('stripe').vaultKey, {
      httpClient: Stripe.createFetchHttpClient(billing.fetch('stripe')),
    });
    const pay = (amount: number, customer: string) =>
      stripe.paymentIntents.create({
        amount,
        currency: 'usd',
        customer,
        confirm: true,
        payment_method: 'pm_card_visa',
      });
    const charge = tool(
      async () => {
        await pay(5000, first);
        await pay(12_000, second);
        return 'ok';
      },
      { name: 'charge_order', description: 'Charge an order.', schema: z.object({}) },
    );
    const [capped] = withKeybrake([charge], { member: billing });
    if (!capped) throw new Error('withKeybrake returned no tool');
    return capped;
  }
  const moneyMoved = () => context.fakeStripe.moneyMoved().map((movement) => movement.amount);

  it("should run a LangGraph node once under a retryPolicy whose retryOn skips Keybrake's denials", async () => {
    const charge = chargeOrder();
    const graph = new StateGraph(Annotation.Root({ result: Annotation<string> }))
      .addNode('charge', async () => ({ result: String(await charge.invoke({})) }), {
        retryPolicy: {
          initialInterval: 1,
          jitter: false,
          logWarning: false,
          retryOn: (error) => !findKeybrakeError(error),
        },
      })
      .addEdge(START, 'charge')
      .addEdge('charge', END)
      .compile();

    const error = await graph.invoke({ result: '' }).catch((caught: unknown) => caught);

    expect(findKeybrakeError(error)).toBeInstanceOf(CapExceededError);
    expect(moneyMoved()).toEqual([5000]);
  });

  it('should run a tool once under withRetry() whose onFailedAttempt rethrows a denial', async () => {
    const charge = chargeOrder().withRetry({
      stopAfterAttempt: 3,
      onFailedAttempt: (error) => {
        if (findKeybrakeError(error)) throw error;
      },
    });

    const error = await charge.invoke({}).catch((caught: unknown) => caught);

    expect(findKeybrakeError(error)).toBeInstanceOf(CapExceededError);
    expect(moneyMoved()).toEqual([5000]);
  });
});
