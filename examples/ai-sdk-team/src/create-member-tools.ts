import { createTwilioHttpClient, type TeamMember } from '@keybrake/core';
import { type ToolSet, tool } from 'ai';
import Stripe from 'stripe';
import twilio from 'twilio';
import { z } from 'zod';
import { demoCustomers } from './demo-customers.js';

/** The Account SID placeholder the SDK is given: the vault puts the real one in every URL. */
const PLACEHOLDER_ACCOUNT_SID = `AC${'0'.repeat(32)}`;

/** The official Stripe SDK on a member's vault key, sending through the member's capped fetch. */
function stripeFor(member: TeamMember): Stripe {
  return new Stripe(member.key('stripe').vaultKey, {
    httpClient: Stripe.createFetchHttpClient(member.fetch('stripe')),
    maxNetworkRetries: 2,
  });
}

/**
 * The billing member's tools, written as usual with the official Stripe SDK: read the CRM, charge
 * a customer with a PaymentIntent. Nothing here knows about Keybrake but the client's key and fetch.
 *
 * @example
 * ```ts
 * const tools = withKeybrake(createBillingTools(team.member('billing')), { member: 'billing' });
 * ```
 */
export function createBillingTools(member: TeamMember): ToolSet {
  const stripe = stripeFor(member);
  return {
    list_customers: tool({
      description: 'List the customers in the CRM: id, name, phone, and whether their $5 invoice is overdue.',
      inputSchema: z.object({}),
      execute: async () => demoCustomers.map((customer) => ({ ...customer })),
    }),
    charge: tool({
      description: "Charge a customer's card on file with Stripe.",
      inputSchema: z.object({ customer: z.string(), amountUsd: z.number().positive() }),
      execute: async ({ customer, amountUsd }) => {
        const intent = await stripe.paymentIntents.create({
          amount: Math.round(amountUsd * 100),
          currency: 'usd',
          payment_method: 'pm_card_visa',
          automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
          confirm: true,
          description: `Overdue invoice of ${customer}`,
          metadata: { customer },
        });
        return { customer, paymentIntent: intent.id, status: intent.status, amountUsd: intent.amount / 100 };
      },
    }),
  };
}

/**
 * The notification member's tools: check a payment with the billing member's shared Stripe key,
 * then text a receipt with its own Twilio key.
 *
 * @param member - The notification member (holding its Twilio key and the shared billing key).
 * @param from - The sending phone number.
 * @example
 * ```ts
 * const tools = withKeybrake(createNotificationTools(team.member('notifications'), '+15005550006'), { member: 'notifications' });
 * ```
 */
export function createNotificationTools(member: TeamMember, from: string): ToolSet {
  const stripe = stripeFor(member);
  const sms = twilio(PLACEHOLDER_ACCOUNT_SID, member.key('twilio').vaultKey, {
    httpClient: createTwilioHttpClient(twilio.RequestClient, { fetch: member.fetch('twilio') }),
  });
  return {
    check_payment: tool({
      description: 'Check that a Stripe PaymentIntent succeeded before sending its receipt.',
      inputSchema: z.object({ paymentIntent: z.string() }),
      execute: async ({ paymentIntent }) => {
        const intent = await stripe.paymentIntents.retrieve(paymentIntent);
        return { paymentIntent: intent.id, status: intent.status, amountUsd: intent.amount / 100 };
      },
    }),
    send_sms: tool({
      description: 'Text a customer.',
      inputSchema: z.object({ to: z.string(), body: z.string() }),
      execute: async ({ to, body }) => {
        const message = await sms.messages.create({ to, from, body });
        return { to, sid: message.sid, status: message.status };
      },
    }),
  };
}
