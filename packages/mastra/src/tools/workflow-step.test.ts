import { CapExceededError, findKeybrakeError } from '@keybrake/core';
import { createTool } from '@mastra/core/tools';
import { createStep, createWorkflow } from '@mastra/core/workflows';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { billingTeamPlan, startBillingTeam, stripeFor } from '../test-utils/billing-team.js';
import { withKeybrake } from './with-keybrake.js';

describe('withKeybrake tools as Mastra workflow steps', () => {
  let running: Awaited<ReturnType<typeof startBillingTeam>> | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  describe('when the step has retries and the tool is denied after a first charge', () => {
    it('should fail the step at once with the typed denial, not run the tool (and its charge) again', async () => {
      running = await startBillingTeam({
        ...billingTeamPlan,
        members: { billing: { vendor: 'stripe', capUsd: 150, allowedEndpoints: ['POST /v1/payment_intents'] } },
      });
      const stripe = stripeFor(running.team.member('billing'));
      const create = (amount: number) =>
        stripe.paymentIntents.create({ amount, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' });
      const chargeOrder = createTool({
        id: 'charge-order',
        description: 'Charge the order: a $50 deposit, then the $120 balance.',
        inputSchema: z.object({ order: z.string() }),
        outputSchema: z.object({ ids: z.array(z.string()) }),
        execute: async () => ({ ids: [(await create(5000)).id, (await create(12_000)).id] }),
      });
      const { chargeOrder: capped } = withKeybrake({ chargeOrder }, { member: 'billing' });
      const workflow = createWorkflow({
        id: 'charge-order',
        inputSchema: z.object({ order: z.string() }),
        outputSchema: z.object({ ids: z.array(z.string()) }),
      })
        .then(createStep(capped, { retries: 3 }))
        .commit();

      const result = await (await workflow.createRun()).start({ inputData: { order: 'ord_1' } });

      expect(result.status).toBe('failed');
      expect(findKeybrakeError((result as { error?: unknown }).error)).toBeInstanceOf(CapExceededError);
      // $50 + $120 > $150: the balance is denied; the deposit is charged once, not once per retry.
      expect(running.fakeStripe.moneyMoved().map((payment) => payment.amount)).toEqual([5000]);
      const { records } = await running.team.audit();
      expect(records.filter((record) => record.decision === 'denied')).toHaveLength(1);
    });
  });
});
