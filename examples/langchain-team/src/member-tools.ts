import { createTwilioHttpClient, type TeamMember } from '@keybrake/core';
import { type StructuredToolInterface, tool } from '@langchain/core/tools';
import Stripe from 'stripe';
import twilio from 'twilio';
import { z } from 'zod';

/** A placeholder Account SID: the vault rewrites it to the real one, which the agent never sees. */
const PLACEHOLDER_SID = `AC${'0'.repeat(32)}`;

/**
 * The billing member's tool: `charge_customer` creates a confirmed PaymentIntent with the official
 * Stripe SDK, authenticated with the member's vault key and sent through its capped fetch.
 *
 * @example
 * ```ts
 * const tools = [chargeCustomerTool(team.member('billing'))];
 * ```
 */
export function chargeCustomerTool(member: TeamMember): StructuredToolInterface {
  const stripe = new Stripe(member.key('stripe').vaultKey, {
    httpClient: Stripe.createFetchHttpClient(member.fetch('stripe')),
    maxNetworkRetries: 2,
  });
  return tool(
    async ({ customer, amountUsd }) => {
      const intent = await stripe.paymentIntents.create({
        customer,
        amount: Math.round(amountUsd * 100),
        currency: 'usd',
        confirm: true,
        payment_method: 'pm_card_visa',
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
        description: 'Weekly invoice',
      });
      return `Charged ${customer} $${amountUsd.toFixed(2)}: ${intent.id} (${intent.status})`;
    },
    {
      name: 'charge_customer',
      description: 'Charge one customer, in USD, with their card on file.',
      schema: z.object({
        customer: z.string().describe('Stripe customer id, cus_…'),
        amountUsd: z.number().positive(),
      }),
    },
  );
}

/** Options of {@link textCustomerTool}. */
export interface TextCustomerToolOptions {
  /** The sender number. @default '+15005550006' (Twilio's magic test number) */
  from?: string | undefined;
}

/**
 * The notification member's tool: `text_customer` looks the customer's phone number up in Stripe
 * with the billing member's shared key, then sends an SMS with the official Twilio SDK and the
 * member's own key.
 *
 * @example
 * ```ts
 * const tools = [textCustomerTool(team.member('notifications'))];
 * ```
 */
export function textCustomerTool(member: TeamMember, options: TextCustomerToolOptions = {}): StructuredToolInterface {
  const stripe = new Stripe(member.key('stripe').vaultKey, {
    httpClient: Stripe.createFetchHttpClient(member.fetch('stripe')),
  });
  const sms = twilio(PLACEHOLDER_SID, member.key('twilio').vaultKey, {
    httpClient: createTwilioHttpClient(twilio.RequestClient, { fetch: member.fetch('twilio') }),
  });
  return tool(
    async ({ customer, body }) => {
      const found = await stripe.customers.retrieve(customer);
      if (found.deleted || !found.phone) return `No phone number on file for ${customer}.`;
      const message = await sms.messages.create({ to: found.phone, from: options.from ?? '+15005550006', body });
      return `Texted ${customer} at ${found.phone}: ${message.sid}`;
    },
    {
      name: 'text_customer',
      description: 'Send one customer an SMS; their number is looked up in Stripe.',
      schema: z.object({ customer: z.string().describe('Stripe customer id, cus_…'), body: z.string().max(320) }),
    },
  );
}
