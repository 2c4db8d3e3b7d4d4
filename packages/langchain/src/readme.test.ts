// The README's quick start, verbatim except for the scripted model and `upstreams` (the fake Stripe).
import { createVault, openTeamSession } from '@keybrake/core';
import { createFakeStripe } from '@keybrake/testkit';
import { AIMessage, ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { createAgent } from 'langchain';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { keybrakeMiddleware } from './index.js';
import { repeatCall } from './test-utils/call-tools.js';

describe('README quick start', () => {
  describe('when the billing agent charges past its $150 cap', () => {
    it('should charge what fits and hand the cap error to the model', async () => {
      const fakeStripe = await createFakeStripe({ secret: 'sk_test_readme' });
      process.env.STRIPE_SECRET_KEY = 'sk_test_readme';
      const model = fakeModel()
        .respond(repeatCall(1, 'charge_customer', { customer: 'cus_1', cents: 10_000 }))
        .respond(repeatCall(1, 'charge_customer', { customer: 'cus_2', cents: 10_000 }))
        .respond(new AIMessage('Charged cus_1; cus_2 is over my budget.'));

      // --- quick start ---
      const vault = createVault({
        secrets: { stripe: process.env.STRIPE_SECRET_KEY },
        upstreams: { stripe: fakeStripe.url },
      });
      const team = await openTeamSession(vault, {
        label: 'billing-team/sess_42',
        capUsd: 200,
        ttl: '1h',
        members: { billing: { vendor: 'stripe', capUsd: 150, allowedEndpoints: ['POST /v1/payment_intents'] } },
      });
      const billing = team.member('billing');
      const stripe = new Stripe(billing.key('stripe').vaultKey, {
        httpClient: Stripe.createFetchHttpClient(billing.fetch('stripe')),
      });
      const charge = tool(
        async ({ customer, cents }) => {
          const intent = await stripe.paymentIntents.create({
            customer,
            amount: cents,
            currency: 'usd',
            confirm: true,
            payment_method: 'pm_card_visa',
          });
          return `Charged ${customer}: ${intent.id}`;
        },
        {
          name: 'charge_customer',
          description: 'Charge a customer, in cents.',
          schema: z.object({ customer: z.string(), cents: z.number().int() }),
        },
      );
      const agent = createAgent({
        model,
        name: 'billing',
        tools: [charge],
        middleware: [keybrakeMiddleware({ member: billing })],
      });
      const result = await agent.invoke({ messages: [{ role: 'user', content: 'Charge cus_1 and cus_2 $100 each.' }] });
      // --- end ---

      const toolError = model.calls[2]?.messages.at(-1);
      expect(ToolMessage.isInstance(toolError) && toolError.status).toBe('error');
      expect(toolError?.text).toMatch(/^KEYBRAKE_CAP_EXCEEDED: .*Budget \$150\.00, spent \$100\.00/);
      expect(result.messages.at(-1)?.text).toContain('Keybrake denied 1 call of member "billing":');
      expect(fakeStripe.moneyMoved()).toHaveLength(1);
      await team.close();
      await vault.close();
      await fakeStripe.close();
    });
  });
});
