import { readFileSync } from 'node:fs';
import { createVault, openTeamSession } from '@keybrake/core';
import { createFakeStripe } from '@keybrake/testkit';
import { Agent } from '@mastra/core/agent';
import { createTool } from '@mastra/core/tools';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { keybrakeDelegation } from './delegation/keybrake-delegation.js';
import { scriptModel, toolOutputs } from './test-utils/script-model.js';
import { withKeybrake } from './tools/with-keybrake.js';

const SECRET = 'sk_test_51QuickStartSecretKeptInTheVault';

/**
 * One scripted model for both agents, as in the quick start: offered the `charge` tool it is the
 * confused billing member (40 charges instead of 4); otherwise it is the supervisor, which delegates
 * once and then repeats what the delegation returned.
 */
const scripted = scriptModel((call) => {
  const results = toolOutputs(call.prompt);
  if (call.tools?.some((offered) => offered.name === 'charge')) {
    if (results.length > 0) return { text: 'Stopped by the spending cap.' };
    return {
      toolCalls: Array.from({ length: 40 }, (_, index) => ({
        toolName: 'charge',
        input: { customer: `cus_${index + 1}`, amountUsd: 5 },
      })),
    };
  }
  if (results.length > 0) return { text: `Billing answered: ${String(results[0]?.value)}` };
  return { toolCalls: [{ toolName: 'agent-billing', input: { prompt: 'Charge the 4 overdue customers $5 each.' } }] };
});

describe('README quick start', () => {
  let fakeStripe: Awaited<ReturnType<typeof createFakeStripe>>;
  beforeAll(async () => {
    fakeStripe = await createFakeStripe({ secret: SECRET });
  });
  afterAll(() => fakeStripe.close());

  describe('when the billing member charges 40 customers instead of 4', () => {
    it('should stop it at its $150 cap and tell the supervisor', async () => {
      const vault = createVault({ secrets: { stripe: SECRET }, upstreams: { stripe: fakeStripe.url } });
      const model = scripted.model;
      const logged: unknown[] = [];
      const console = { log: (...values: unknown[]) => logged.push(...values) };

      // #region quick-start
      const team = await openTeamSession(vault, {
        label: 'billing-team/run-1',
        capUsd: 200,
        ttl: '1h',
        members: { billing: { vendor: 'stripe', capUsd: 150, allowedEndpoints: ['POST /v1/payment_intents'] } },
      });
      const billing = team.member('billing');
      const stripe = new Stripe(billing.key('stripe').vaultKey, {
        httpClient: Stripe.createFetchHttpClient(billing.fetch('stripe')),
      });
      const charge = createTool({
        id: 'charge',
        description: 'Charge a customer, in USD.',
        inputSchema: z.object({ customer: z.string(), amountUsd: z.number() }),
        execute: ({ customer, amountUsd }) =>
          stripe.paymentIntents.create({
            customer,
            amount: Math.round(amountUsd * 100),
            currency: 'usd',
            confirm: true,
          }),
      });
      const billingAgent = new Agent({
        id: 'billing',
        name: 'billing',
        description: 'Charges customers with Stripe.',
        instructions: 'Charge the customers you are asked to.',
        model,
        tools: withKeybrake({ charge }, { member: billing }),
      });
      const supervisor = new Agent({
        id: 'supervisor',
        name: 'supervisor',
        instructions: 'Run the billing team.',
        model,
        agents: { billing: billingAgent },
        defaultOptions: { delegation: keybrakeDelegation() },
      });
      const { text } = await supervisor.generate('Charge the 4 overdue customers $5 each.');
      console.log(text, (await team.audit()).totals);
      await team.close();
      // #endregion quick-start

      expect(fakeStripe.moneyMoved()).toHaveLength(30);
      expect(text).toMatch(
        /^Billing answered: Stopped by the spending cap\.\n\nKeybrake stopped member "billing" \(tool "charge", 10 calls denied\)\.\nKEYBRAKE_CAP_EXCEEDED: Keybrake denied this call/,
      );
      expect(text).toContain('"label":"billing-team/run-1/billing"');
      expect(text).toContain('"capUsd":150');
      expect(logged[1]).toEqual([
        expect.objectContaining({ label: 'billing-team/run-1/billing', allowed: 30, denied: 10, spentMicros: 150e6 }),
      ]);
      expect(JSON.stringify(scripted.prompts)).not.toContain('kb_test_');
      await vault.close();
    });
  });

  describe('when the README is read', () => {
    it('should show the code this test runs', () => {
      const source = readFileSync(new URL(import.meta.url), 'utf8');
      const region = source.slice(
        source.indexOf('// #region quick-start\n') + 23,
        source.indexOf('      // #endregion'),
      );
      const snippet = region.replace(/^ {6}/gm, '');
      const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
      expect(snippet.length).toBeGreaterThan(500);
      expect(readme).toContain(snippet);
    });
  });
});
