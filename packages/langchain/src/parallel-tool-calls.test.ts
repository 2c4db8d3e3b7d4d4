import { setTimeout as sleep } from 'node:timers/promises';
import type { TeamMember } from '@keybrake/core';
import { AIMessage, type BaseMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { createAgent, toolRetryMiddleware } from 'langchain';
import Stripe from 'stripe';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { keybrakeMiddleware } from './keybrake-middleware.js';
import { parseKeybrakeDenials } from './parse-keybrake-denials.js';
import { callTools } from './test-utils/call-tools.js';
import { openTestTeam, type TestTeam } from './test-utils/open-test-team.js';
import { withKeybrake } from './with-keybrake.js';

function slowCharge(member: TeamMember) {
  const stripe = new Stripe(member.key('stripe').vaultKey, {
    httpClient: Stripe.createFetchHttpClient(member.fetch('stripe')),
    maxNetworkRetries: 2,
  });
  return tool(
    async ({ customer, amountUsd, wait }) => {
      await sleep(wait);
      await stripe.customers.retrieve(customer).catch(() => undefined);
      await sleep(wait);
      const intent = await stripe.paymentIntents.create({
        amount: amountUsd * 100,
        currency: 'usd',
        customer,
        confirm: true,
        payment_method: 'pm_card_visa',
      });
      return `charged ${amountUsd}: ${intent.id}`;
    },
    {
      name: 'charge_customer',
      description: 'Charge.',
      schema: z.object({ customer: z.string(), amountUsd: z.number(), wait: z.number() }),
    },
  );
}

const amounts = [60, 50, 40, 30, 20, 10, 45, 35];

async function checkParallel(context: TestTeam, variant: 'middleware' | 'wrap' | 'retry-outer') {
  const billing = context.team.member('billing');
  const [customer = ''] = context.customers;
  const calls = callTools(
    amounts.map((amountUsd, index) => ({
      name: 'charge_customer',
      args: { customer, amountUsd, wait: (index * 7) % 13 },
    })),
  );
  const model = fakeModel().respond(calls).respond(new AIMessage('done'));
  const agent = createAgent({
    model,
    name: 'billing',
    tools: variant === 'wrap' ? withKeybrake([slowCharge(billing)], { member: billing }) : [slowCharge(billing)],
    middleware:
      variant === 'middleware'
        ? [keybrakeMiddleware({ member: billing })]
        : variant === 'retry-outer'
          ? [toolRetryMiddleware({ maxRetries: 2, initialDelayMs: 0 }), keybrakeMiddleware({ member: billing })]
          : [],
  });
  const result = await agent.invoke({ messages: [{ role: 'user', content: 'charge' }] });
  const toolMessages = (model.calls[1]?.messages ?? []).filter((m): m is ToolMessage => ToolMessage.isInstance(m));
  expect(toolMessages).toHaveLength(amounts.length);
  const { records } = await context.team.audit();
  const ids = calls.tool_calls?.map((c) => c.id) ?? [];
  for (const [index, id] of ids.entries()) {
    const mine = records.filter((r) => r.actor?.toolCallId === id);
    expect(mine.map((r) => r.method).sort()).toEqual(['GET', 'POST']);
    expect(mine.every((r) => r.actor?.member === 'billing' && r.actor.tool === 'charge_customer')).toBe(true);
    const post = mine.find((r) => r.method === 'POST');
    const message = toolMessages.find((m) => m.tool_call_id === id);
    if (post?.decision === 'denied') {
      expect(message?.status).toBe('error');
      expect(parseKeybrakeDenials([message as BaseMessage])[0]?.toJSON()).toMatchObject({
        attemptedUsd: amounts[index],
      });
    } else {
      expect(message?.status).not.toBe('error');
      expect(message?.text).toContain(`charged ${amounts[index]}:`);
    }
  }
  expect(records.filter((r) => r.method === 'POST')).toHaveLength(amounts.length);
  const denied = records.filter((r) => r.decision === 'denied').length;
  if (variant !== 'wrap') {
    const final = result.messages.at(-1);
    expect(final?.text).toContain(`Keybrake denied ${denied} call`);
  }
  expect(context.fakeStripe.moneyMoved().reduce((s, m) => s + m.amount, 0)).toBeLessThanOrEqual(150_00);
}

describe('parallel tool calls in one step', () => {
  let context: TestTeam | undefined;
  afterEach(() => context?.close());

  for (const variant of ['middleware', 'wrap', 'retry-outer'] as const) {
    it(`${variant}: should give each call its own actor and its own denial`, async () => {
      context = await openTestTeam();
      await checkParallel(context, variant);
    });
  }

  it('should report to a supervisor with its own middleware only the denials of each member it ran in parallel', async () => {
    const plan = { vendor: 'stripe', capUsd: 20, allowedEndpoints: ['POST /v1/payment_intents'] };
    context = await openTestTeam({
      capUsd: 200,
      members: { east: plan, west: { ...plan, capUsd: 100 } },
    });
    const ctx = context;
    const [customer = ''] = ctx.customers;
    const memberAgent = (name: 'east' | 'west') => {
      const member = ctx.team.member(name);
      const model = fakeModel()
        .respond(
          callTools(
            Array.from({ length: 4 }, (_, i) => ({
              name: 'charge_customer',
              args: { customer, amountUsd: 10, wait: i },
            })),
          ),
        )
        .respond(new AIMessage(`${name} finished.`));
      return createAgent({
        model,
        name,
        tools: [slowCharge(member)],
        middleware: [keybrakeMiddleware({ member })],
      });
    };
    const asTool = (name: 'east' | 'west') => {
      const agent = memberAgent(name);
      return tool(
        async ({ task }) => {
          const result = await agent.invoke({ messages: [{ role: 'user', content: task }] });
          return result.messages.at(-1)?.text ?? '';
        },
        { name: `ask_${name}`, description: name, schema: z.object({ task: z.string() }) },
      );
    };
    const model = fakeModel()
      .respond(
        callTools([
          { name: 'ask_east', args: { task: 'go' } },
          { name: 'ask_west', args: { task: 'go' } },
        ]),
      )
      .respond(new AIMessage('Supervisor done.'));
    const supervisor = createAgent({
      model,
      name: 'supervisor',
      tools: [asTool('east'), asTool('west')],
      middleware: [keybrakeMiddleware({ member: 'supervisor' })],
    });
    const result = await supervisor.invoke({ messages: [{ role: 'user', content: 'x' }] });
    const answers = (model.calls[1]?.messages ?? []).filter((m): m is ToolMessage => ToolMessage.isInstance(m));
    const east = answers.find((m) => m.name === 'ask_east');
    const west = answers.find((m) => m.name === 'ask_west');
    expect(east?.text).toMatch(/^east finished\.\n\nKeybrake denied 2 calls of member "east":/);
    expect(
      parseKeybrakeDenials([east as BaseMessage]).every((d) => d.toJSON().label === 'billing-team/sess_test/east'),
    ).toBe(true);
    expect(west?.text).toBe('west finished.');
    // the supervisor's own final message: nothing denied its own calls; it carries east's report up
    const final = result.messages.at(-1);
    expect(final?.text).toBe(`Supervisor done.\n\n${east?.text.slice('east finished.\n\n'.length)}`);
    expect(final?.text).not.toContain('of member "supervisor"');
    expect(ctx.fakeStripe.moneyMoved()).toHaveLength(6);
  });
});
