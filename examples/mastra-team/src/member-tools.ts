// The members' tools, written as usual with Mastra's createTool and the official Stripe and Twilio
// SDKs. Nothing here knows about Keybrake: the SDK clients get a member's vault key and capped fetch.
import { createTool } from '@mastra/core/tools';
import type Stripe from 'stripe';
import type { Twilio } from 'twilio';
import { z } from 'zod';

/** A customer of the demo CRM. */
export interface Customer {
  id: string;
  phone: string;
  overdue: boolean;
}

const OVERDUE = new Set([3, 11, 19, 22]);

/** The demo CRM: 40 customers with fictional 555-01xx phone numbers, 4 of them overdue. */
export const customers: readonly Customer[] = Array.from({ length: 40 }, (_, index) => {
  const n = index + 1;
  const two = String(n).padStart(2, '0');
  return { id: `cus_demo_${two}`, phone: `+141555501${two}`, overdue: OVERDUE.has(n) };
});

/** The billing member's tools: read the CRM, charge a customer with a PaymentIntent. */
export function createBillingTools(stripe: Stripe) {
  const listCustomers = createTool({
    id: 'list-customers',
    description: 'List all customers in the CRM, with phone number and whether their invoice is overdue.',
    inputSchema: z.object({}),
    execute: async () => ({ customers }),
  });
  const chargeCustomer = createTool({
    id: 'charge-customer',
    description: 'Charge a customer in US cents with a card PaymentIntent, confirmed at once.',
    inputSchema: z.object({ customer: z.string(), amountCents: z.number().int().positive() }),
    execute: async ({ customer, amountCents }) => {
      const intent = await stripe.paymentIntents.create({
        amount: amountCents,
        currency: 'usd',
        confirm: true,
        payment_method: 'pm_card_visa',
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
        description: `Overdue invoice of ${customer}`,
        metadata: { customer },
      });
      return { customer, paymentIntent: intent.id, status: intent.status, amountCents: intent.amount };
    },
  });
  return { listCustomers, chargeCustomer };
}

/** The notification member's tools: check a payment (with billing's shared key), text a receipt. */
export function createNotificationTools(stripe: Stripe, sms: Twilio, from: string) {
  const checkPayment = createTool({
    id: 'check-payment',
    description: 'Check that a PaymentIntent succeeded before sending its receipt.',
    inputSchema: z.object({ paymentIntent: z.string() }),
    execute: async ({ paymentIntent }) => {
      const intent = await stripe.paymentIntents.retrieve(paymentIntent);
      return { paymentIntent: intent.id, status: intent.status, amountCents: intent.amount };
    },
  });
  const sendSms = createTool({
    id: 'send-sms',
    description: 'Text a customer.',
    inputSchema: z.object({ to: z.string(), body: z.string() }),
    execute: async ({ to, body }) => {
      const message = await sms.messages.create({ to, from, body });
      return { to, sid: message.sid, status: message.status };
    },
  });
  return { checkPayment, sendSms };
}
