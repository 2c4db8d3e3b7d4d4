import { setTimeout as sleep } from 'node:timers/promises';
import { AIMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { createAgent, toolRetryMiddleware } from 'langchain';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { z } from 'zod';
import { keybrakeMiddleware } from './keybrake-middleware.js';
import { callTools } from './test-utils/call-tools.js';
import { chargeTool, openTestTeam, type TestTeam } from './test-utils/open-test-team.js';

let context: TestTeam;
beforeEach(async () => {
  context = await openTestTeam({
    members: { billing: { vendor: 'stripe', capUsd: 150, allowedEndpoints: ['POST /v1/payment_intents'] } },
  });
});
afterEach(() => context.close());

const slowLookup = tool(async () => sleep(50, 'cus_1: card on file'), {
  name: 'lookup_customer',
  description: 'Look up a customer.',
  schema: z.object({ customer: z.string() }),
});

it('should not retry a member stopped by a denial because a parallel tool call of the same step ended after it', async () => {
  const billing = context.team.member('billing');
  const [customer = ''] = context.customers;
  let runs = 0;
  const askBilling = tool(
    async ({ task }) => {
      runs++;
      const member = createAgent({
        model: fakeModel()
          .respond(callTools([{ name: 'charge_customer', args: { customer, amountUsd: 50 } }]))
          .respond(
            callTools([
              { name: 'charge_customer', args: { customer, amountUsd: 120 } }, // over the $150 cap: denied
              { name: 'lookup_customer', args: { customer } }, // same step, ends 50 ms later
            ]),
          )
          .respond(new Error('model provider overloaded')),
        name: 'billing',
        tools: [chargeTool(billing), slowLookup],
        middleware: [keybrakeMiddleware({ member: billing })],
      });
      const result = await member.invoke({ messages: [{ role: 'user', content: task }] });
      return result.messages.at(-1)?.text ?? '';
    },
    { name: 'ask_billing', description: 'Give billing a task.', schema: z.object({ task: z.string() }) },
  );
  const supervisor = createAgent({
    model: fakeModel()
      .respond(callTools([{ name: 'ask_billing', args: { task: 'Charge $50, then $120.' } }]))
      .respond(new AIMessage('done')),
    name: 'supervisor',
    tools: [askBilling],
    middleware: [
      keybrakeMiddleware({ member: 'supervisor' }),
      toolRetryMiddleware({ maxRetries: 2, initialDelayMs: 0 }),
    ],
  });

  await supervisor.invoke({ messages: [{ role: 'user', content: 'Bill the customer.' }] }).catch(() => {});

  // Same as keybrake-middleware.test.ts "so a retry middleware does not run the member again", with one parallel lookup.
  expect({ runs, moved: context.fakeStripe.moneyMoved().map((movement) => movement.amount) }).toEqual({
    runs: 1,
    moved: [5000],
  });
});
