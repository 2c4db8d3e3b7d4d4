import {
  createTwilioHttpClient,
  createVault,
  openTeamSession,
  type TeamMember,
  type TeamSession,
} from '@keybrake/core';
import { createFakeStripe, createFakeTwilio, type FakeStripe, type FakeTwilio } from '@keybrake/testkit';
import { type StructuredToolInterface, tool } from '@langchain/core/tools';
import Stripe from 'stripe';
import twilio from 'twilio';
import { z } from 'zod';

export const STRIPE_SECRET = 'sk_test_51LangchainAdapterSecret0123456789';
export const TWILIO_SID = `AC${'2'.repeat(32)}`;
export const TWILIO_TOKEN = 'langchain_adapter_twilio_token_0123';

/** A billing team on the testkit fakes: billing ($150, Stripe), notifications ($50, Twilio + billing's key). */
export interface TestTeam {
  fakeStripe: FakeStripe;
  fakeTwilio: FakeTwilio;
  team: TeamSession;
  /** Ids of customers created in the fake Stripe, each with a phone number. */
  customers: string[];
  close(): Promise<void>;
}

/** Options of {@link openTestTeam}. */
export interface TestTeamOptions {
  /** Members' plans; defaults to the billing team. */
  members?: Parameters<typeof openTeamSession>[1]['members'];
  capUsd?: number;
}

/** Opens the test team on fresh fakes, with 4 customers (with phones) in the fake Stripe. */
export async function openTestTeam(options: TestTeamOptions = {}): Promise<TestTeam> {
  const fakeStripe = await createFakeStripe({ secret: STRIPE_SECRET });
  const fakeTwilio = await createFakeTwilio({ accountSid: TWILIO_SID, secret: TWILIO_TOKEN });
  const vault = createVault({
    secrets: { stripe: STRIPE_SECRET, twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN } },
    upstreams: { stripe: fakeStripe.url, twilio: fakeTwilio.url },
  });
  const team = await openTeamSession(vault, {
    label: 'billing-team/sess_test',
    capUsd: options.capUsd ?? 200,
    ttl: '1h',
    members: options.members ?? {
      billing: { vendor: 'stripe', capUsd: 150, allowedEndpoints: ['POST /v1/payment_intents', 'GET /v1/customers/*'] },
      notifications: { vendor: 'twilio', capUsd: 50, shareKeysOf: ['billing'] },
    },
  });
  const admin = new Stripe(STRIPE_SECRET, { host: fakeStripe.host, port: fakeStripe.port, protocol: 'http' });
  const customers: string[] = [];
  for (let index = 0; index < 4; index++) {
    const customer = await admin.customers.create({ name: `Customer ${index}`, phone: `+1500555000${index}` });
    customers.push(customer.id);
  }
  return {
    fakeStripe,
    fakeTwilio,
    team,
    customers,
    async close() {
      await team.close();
      await vault.close();
      await fakeStripe.close();
      await fakeTwilio.close();
    },
  };
}

/** `charge_customer`: a confirmed PaymentIntent through the official Stripe SDK and the member's vault key. */
export function chargeTool(member: TeamMember): StructuredToolInterface {
  const stripe = new Stripe(member.key('stripe').vaultKey, {
    httpClient: Stripe.createFetchHttpClient(member.fetch('stripe')),
    maxNetworkRetries: 2,
  });
  return tool(
    async ({ customer, amountUsd }) => {
      const intent = await stripe.paymentIntents.create({
        amount: Math.round(amountUsd * 100),
        currency: 'usd',
        customer,
        confirm: true,
        payment_method: 'pm_card_visa',
      });
      return `Charged ${customer} $${amountUsd}: ${intent.id} (${intent.status})`;
    },
    {
      name: 'charge_customer',
      description: 'Charge a customer in USD.',
      schema: z.object({ customer: z.string(), amountUsd: z.number().positive() }),
    },
  );
}

/** `text_customer`: looks up the phone with the shared billing key, then sends an SMS through Twilio. */
export function textTool(member: TeamMember): StructuredToolInterface {
  const stripe = new Stripe(member.key('stripe').vaultKey, {
    httpClient: Stripe.createFetchHttpClient(member.fetch('stripe')),
  });
  const sms = twilio(`AC${'0'.repeat(32)}`, member.key('twilio').vaultKey, {
    httpClient: createTwilioHttpClient(twilio.RequestClient, { fetch: member.fetch('twilio') }),
  });
  return tool(
    async ({ customer, body }) => {
      const found = await stripe.customers.retrieve(customer);
      if (found.deleted || !found.phone) return `No phone number for ${customer}.`;
      const message = await sms.messages.create({ to: found.phone, from: '+15005550001', body });
      return `Texted ${customer}: ${message.sid}`;
    },
    {
      name: 'text_customer',
      description: 'Send an SMS to a customer.',
      schema: z.object({ customer: z.string(), body: z.string() }),
    },
  );
}
