import { createTwilioHttpClient, createVault, openTeamSession, type TeamMember, type TeamPlan } from '@keybrake/core';
import { createFakeStripe, createFakeTwilio } from '@keybrake/testkit';
import { type ToolSet, tool } from 'ai';
import Stripe from 'stripe';
import twilio from 'twilio';
import { z } from 'zod';

const STRIPE_SECRET = 'sk_test_51TestSecretThatNeverLeavesTheVault';
const TWILIO_SID = `AC${'7'.repeat(32)}`;
const TWILIO_TOKEN = 'twilio_auth_token_that_never_leaves_the_vault';

/**
 * The official Stripe SDK bound to a member's vault key and capped fetch (embedded mode).
 *
 * @example
 * ```ts
 * const stripe = stripeFor(team.member('billing'));
 * ```
 */
export function stripeFor(member: TeamMember): Stripe {
  return new Stripe(member.key('stripe').vaultKey, {
    httpClient: Stripe.createFetchHttpClient(member.fetch('stripe')),
    maxNetworkRetries: 2,
  });
}

/**
 * The official Twilio SDK bound to a member's vault key and capped fetch (embedded mode).
 *
 * @example
 * ```ts
 * const sms = twilioFor(team.member('notifications'));
 * ```
 */
export function twilioFor(member: TeamMember): ReturnType<typeof twilio> {
  return twilio(`AC${'0'.repeat(32)}`, member.key('twilio').vaultKey, {
    httpClient: createTwilioHttpClient(twilio.RequestClient, { fetch: member.fetch('twilio') }),
  });
}

/** Charges a customer's card on file `amountUsd`: one confirmed PaymentIntent, as a billing tool does. */
export const chargeCard = (stripe: Stripe, customer: string, amountUsd: number) =>
  stripe.paymentIntents.create({
    amount: Math.round(amountUsd * 100),
    currency: 'usd',
    customer,
    payment_method: 'pm_card_visa',
    confirm: true,
  });

/**
 * Billing tools written the usual way: the official Stripe SDK, nothing Keybrake-specific.
 *
 * @example
 * ```ts
 * const tools = withKeybrake(billingTools(stripeFor(billing)), { member: billing });
 * ```
 */
export function billingTools(stripe: Stripe): ToolSet {
  return {
    charge: tool({
      description: 'Charge a customer with their card on file.',
      inputSchema: z.object({ customer: z.string(), amountUsd: z.number() }),
      execute: async ({ customer, amountUsd }) => {
        const intent = await chargeCard(stripe, customer, amountUsd);
        return { id: intent.id, status: intent.status, amountUsd };
      },
    }),
    refund: tool({
      description: 'Refund a payment.',
      inputSchema: z.object({ paymentIntent: z.string() }),
      execute: async ({ paymentIntent }) => {
        const refund = await stripe.refunds.create({ payment_intent: paymentIntent });
        return { id: refund.id, status: refund.status };
      },
    }),
  };
}

/**
 * Notification tools: Twilio SMS with the member's own key.
 *
 * @example
 * ```ts
 * const tools = withKeybrake(notificationTools(twilioFor(notifications)), { member: notifications });
 * ```
 */
export function notificationTools(sms: ReturnType<typeof twilio>): ToolSet {
  return {
    send_sms: tool({
      description: 'Send an SMS to a customer.',
      inputSchema: z.object({ to: z.string(), body: z.string() }),
      execute: async ({ to, body }) => {
        const message = await sms.messages.create({ to, from: '+15005550001', body });
        return { sid: message.sid, status: message.status };
      },
    }),
  };
}

/**
 * Opens the billing team of the tests against fake Stripe and Twilio upstreams: session cap $200,
 * billing $150 (Stripe PaymentIntents), notifications $50 (Twilio, with the billing key shared).
 *
 * @param members - Other members, replacing the default two.
 * @example
 * ```ts
 * const { team, fakeStripe, close } = await openTestTeam();
 * ```
 */
export async function openTestTeam(members?: TeamPlan['members']) {
  const fakeStripe = await createFakeStripe({ secret: STRIPE_SECRET });
  const fakeTwilio = await createFakeTwilio({ accountSid: TWILIO_SID, secret: TWILIO_TOKEN });
  const vault = createVault({
    secrets: { stripe: STRIPE_SECRET, twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN } },
    upstreams: { stripe: fakeStripe.url, twilio: fakeTwilio.url },
  });
  const team = await openTeamSession(vault, {
    label: 'billing-team/test',
    capUsd: 200,
    ttl: '1h',
    members: members ?? {
      billing: {
        vendor: 'stripe',
        capUsd: 150,
        allowedEndpoints: ['POST /v1/payment_intents', 'GET /v1/customers', 'GET /v1/customers/*'],
      },
      notifications: { vendor: 'twilio', capUsd: 50, shareKeysOf: ['billing'] },
    },
  });
  return {
    fakeStripe,
    fakeTwilio,
    vault,
    team,
    async close() {
      await team.close();
      await vault.close();
      await fakeStripe.close();
      await fakeTwilio.close();
    },
  };
}
