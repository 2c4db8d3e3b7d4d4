// A billing team for tests: fake Stripe and Twilio upstreams on loopback, a vault holding their
// secrets, a team session, and Mastra tools that call the official SDKs through members' keys.
import { createTwilioHttpClient, createVault, openTeamSession, type TeamMember, type TeamPlan } from '@keybrake/core';
import { createFakeStripe, createFakeTwilio } from '@keybrake/testkit';
import { Agent } from '@mastra/core/agent';
import { createTool } from '@mastra/core/tools';
import Stripe from 'stripe';
import twilio from 'twilio';
import { z } from 'zod';
import { keybrakeHooks } from '../tools/keybrake-hooks.js';
import { withKeybrake } from '../tools/with-keybrake.js';
import { type ScriptStep, scriptModel, toolOutputs } from './script-model.js';

export const STRIPE_SECRET = 'sk_test_51MastraAdapterSecret0123456789';
export const TWILIO_SID = `AC${'7'.repeat(32)}`;
export const TWILIO_TOKEN = 'mastra_adapter_twilio_token_0123';

/** The billing team of the issue: session $200, billing $150 on Stripe, notifications $50 on Twilio. */
export const billingTeamPlan: TeamPlan = {
  label: 'billing-team/sess_test',
  capUsd: 200,
  ttl: '1h',
  members: {
    billing: { vendor: 'stripe', capUsd: 150, allowedEndpoints: ['POST /v1/payment_intents', 'GET /v1/customers/*'] },
    notifications: { vendor: 'twilio', capUsd: 50, shareKeysOf: ['billing'] },
  },
};

/** Opens fakes, a vault and a team session from `plan`. Close with `close()`. */
export async function startBillingTeam(plan: TeamPlan = billingTeamPlan) {
  const fakeStripe = await createFakeStripe({ secret: STRIPE_SECRET });
  const fakeTwilio = await createFakeTwilio({ accountSid: TWILIO_SID, secret: TWILIO_TOKEN });
  const vault = createVault({
    secrets: { stripe: STRIPE_SECRET, twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN } },
    upstreams: { stripe: fakeStripe.url, twilio: fakeTwilio.url },
  });
  const team = await openTeamSession(vault, plan);
  return {
    vault,
    team,
    fakeStripe,
    fakeTwilio,
    async close() {
      await team.close();
      await vault.close();
      await fakeStripe.close();
      await fakeTwilio.close();
    },
  };
}

/** A Stripe client on a member's vault key, sending through the member's capped fetch. */
export function stripeFor(member: TeamMember): Stripe {
  return new Stripe(member.key('stripe').vaultKey, {
    httpClient: Stripe.createFetchHttpClient(member.fetch('stripe')),
    maxNetworkRetries: 2,
  });
}

/** Charges a customer `amountCents` with one confirmed PaymentIntent (official Stripe SDK). */
export const chargeIntent = (stripe: Stripe, customer: string, amountCents: number) =>
  stripe.paymentIntents.create({
    amount: amountCents,
    currency: 'usd',
    confirm: true,
    payment_method: 'pm_card_visa',
    metadata: { customer },
  });

/** A Mastra tool charging a customer with a confirmed PaymentIntent (official Stripe SDK). */
export function createChargeTool(stripe: Stripe) {
  return createTool({
    id: 'charge-customer',
    description: 'Charge a customer in US cents with a confirmed PaymentIntent.',
    inputSchema: z.object({ customer: z.string(), amountCents: z.number().int().positive() }),
    execute: async ({ customer, amountCents }) => {
      const intent = await chargeIntent(stripe, customer, amountCents);
      return { id: intent.id, status: intent.status, amountCents: intent.amount };
    },
  });
}

/** A Mastra tool sending an SMS (official Twilio SDK). */
export function createSmsTool(member: TeamMember) {
  const sms = twilio(`AC${'0'.repeat(32)}`, member.key('twilio').vaultKey, {
    httpClient: createTwilioHttpClient(twilio.RequestClient, { fetch: member.fetch('twilio') }),
  });
  return createTool({
    id: 'send-sms',
    description: 'Send an SMS to a customer.',
    inputSchema: z.object({ to: z.string(), body: z.string() }),
    execute: async ({ to, body }) => {
      const message = await sms.messages.create({ to, from: '+15005550001', body });
      return { sid: message.sid, status: message.status };
    },
  });
}

/**
 * Runs a supervisor whose scripted model delegates once through `toolName` (input `{ prompt }`),
 * then answers 'ok'; returns the delegation's output as its model read it.
 */
export async function superviseOnce(
  toolName: string,
  setup: Partial<ConstructorParameters<typeof Agent>[0]>,
  prompt = 'Charge cus_1 $50.',
) {
  const supervisorModel = scriptModel([{ toolCalls: [{ toolName, input: { prompt } }] }, { text: 'ok' }]);
  const supervisor = new Agent({
    id: 'supervisor',
    name: 'supervisor',
    instructions: 'Run billing.',
    model: supervisorModel.model,
    ...setup,
  });
  await supervisor.generate('Bill cus_1.');
  return toolOutputs(supervisorModel.prompts[1])[0];
}

/** A member as a Mastra agent whose model follows `steps`, its charge tool wrapped with `withKeybrake` (or, `hooksOnly`, under `keybrakeHooks`). */
export function createBillingAgent(
  member: TeamMember,
  steps: ScriptStep[],
  options: { hooksOnly?: boolean } = {},
): Agent {
  const tools = { chargeCustomer: createChargeTool(stripeFor(member)) };
  return new Agent({
    id: member.name,
    name: member.name,
    description: `Charges customers with Stripe (${member.name}).`,
    instructions: 'Charge the customers you are given.',
    model: scriptModel(steps).model,
    // Hook-only: the tools as they are, capped by `keybrakeHooks` (which cannot set the actor).
    ...(options.hooksOnly ? { tools, hooks: keybrakeHooks() } : { tools: withKeybrake(tools, { member }) }),
  });
}
