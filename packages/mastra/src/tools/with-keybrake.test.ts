import { CapExceededError, findKeybrakeError } from '@keybrake/core';
import { Agent } from '@mastra/core/agent';
import { createTool, noopObserve } from '@mastra/core/tools';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  billingTeamPlan,
  createChargeTool,
  createSmsTool,
  startBillingTeam,
  stripeFor,
} from '../test-utils/billing-team.js';
import { scriptModel, toolOutputs } from '../test-utils/script-model.js';
import { withKeybrake } from './with-keybrake.js';

type Team = Awaited<ReturnType<typeof startBillingTeam>>;

const charge = (customer: string, amountCents: number, toolCallId: string) => ({
  toolName: 'chargeCustomer',
  input: { customer, amountCents },
  toolCallId,
});

describe('withKeybrake', () => {
  let running: Team | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  describe('when a billing member charges past its $150 cap', () => {
    it('should hand the model the cap error as a tool error, let the run complete and send only the allowed charges', async () => {
      running = await startBillingTeam();
      const { team, fakeStripe } = running;
      const billing = team.member('billing');
      const scripted = scriptModel([
        {
          toolCalls: [
            charge('cus_1', 5000, 'call_1'),
            charge('cus_2', 5000, 'call_2'),
            charge('cus_3', 5000, 'call_3'),
          ],
        },
        { toolCalls: [charge('cus_4', 5000, 'call_4')] },
        { text: 'Charged 3 customers; the 4th charge was refused by the budget.' },
      ]);
      const agent = new Agent({
        id: 'billing',
        name: 'billing',
        instructions: 'Charge the customers you are given.',
        model: scripted.model,
        tools: withKeybrake({ chargeCustomer: createChargeTool(stripeFor(billing)) }, { member: billing }),
      });

      const result = await agent.generate('Charge cus_1..cus_4 $50 each.');

      expect(result.text).toBe('Charged 3 customers; the 4th charge was refused by the budget.');
      const afterDenial = toolOutputs(scripted.prompts[2]).at(-1);
      expect(afterDenial?.type).toBe('error-text');
      const text = String(afterDenial?.value);
      expect(text).toMatch(
        /^KEYBRAKE_CAP_EXCEEDED: Keybrake denied this call: it would exceed this key's spending cap\./,
      );
      expect(text).toContain('Budget $150.00, spent $150.00, in flight $0.00, this call $50.00.');
      expect(text).toContain('Retrying will not help');
      expect(JSON.parse(text.split('\n').at(-1) ?? '')).toMatchObject({
        code: 'KEYBRAKE_CAP_EXCEEDED',
        label: 'billing-team/sess_test/billing',
        capUsd: 150,
        spentUsd: 150,
        attemptedUsd: 50,
      });
      expect(fakeStripe.moneyMoved().map((movement) => movement.amount)).toEqual([5000, 5000, 5000]);
      expect(await billing.status()).toMatchObject({ spentUsd: 150 });
      const { records } = await team.audit();
      const denied = records.filter((record) => record.decision === 'denied');
      expect(denied).toHaveLength(1);
      expect(denied[0]).toMatchObject({
        reason: 'KEYBRAKE_CAP_EXCEEDED',
        actor: { member: 'billing', tool: 'chargeCustomer', toolCallId: 'call_4' },
      });
      expect(
        records
          .filter((record) => record.decision === 'allowed')
          .map((record) => record.actor?.toolCallId)
          .sort(),
      ).toEqual(['call_1', 'call_2', 'call_3']);
      const transcript = JSON.stringify([scripted.prompts, result.response, result.steps]);
      expect(transcript).not.toContain('kb_test_');
      expect(transcript).not.toContain('sk_test_');
    });
  });

  describe('when the SMS member is stopped through Twilio’s own RestException', () => {
    it('should give the model the Keybrake code and figures, not the SDK’s generic error', async () => {
      running = await startBillingTeam({
        ...billingTeamPlan,
        members: { ...billingTeamPlan.members, notifications: { vendor: 'twilio', capUsd: 0.02 } },
      });
      const notifications = running.team.member('notifications');
      const sms = (to: string, toolCallId: string) => ({
        toolName: 'sendSms',
        input: { to, body: 'Your invoice is paid.' },
        toolCallId,
      });
      const scripted = scriptModel([
        { toolCalls: [sms('+15005550006', 'sms_1')] },
        { toolCalls: [sms('+15005550007', 'sms_2')] },
        { toolCalls: [sms('+15005550008', 'sms_3')] },
        { text: 'Sent 2 texts.' },
      ]);
      const agent = new Agent({
        id: 'notifications',
        name: 'notifications',
        instructions: 'Text customers.',
        model: scripted.model,
        tools: withKeybrake({ sendSms: createSmsTool(notifications) }, { member: 'notifications' }),
      });

      await agent.generate('Text three customers.');

      const denied = toolOutputs(scripted.prompts[3]).at(-1);
      expect(denied).toMatchObject({ toolName: 'sendSms', type: 'error-text' });
      expect(String(denied?.value)).toMatch(/^KEYBRAKE_CAP_EXCEEDED: .*Budget \$0\.02, spent \$0\.0166/);
      expect(running.fakeTwilio.messages()).toHaveLength(2);
    });
  });

  describe('when the denial is an endpoint outside the member’s allow-list', () => {
    it('should tell the model which endpoint was refused', async () => {
      running = await startBillingTeam();
      const stripe = stripeFor(running.team.member('billing'));
      const refund = createTool({
        id: 'refund',
        description: 'Refund a payment.',
        inputSchema: z.object({ paymentIntent: z.string() }),
        execute: async ({ paymentIntent }) => stripe.refunds.create({ payment_intent: paymentIntent }),
      });
      const scripted = scriptModel([
        { toolCalls: [{ toolName: 'refund', input: { paymentIntent: 'pi_1' } }] },
        { text: 'I may not refund.' },
      ]);
      const agent = new Agent({
        id: 'billing',
        name: 'billing',
        instructions: 'Refund.',
        model: scripted.model,
        tools: withKeybrake({ refund }, { member: 'billing' }),
      });

      await agent.generate('Refund pi_1.');

      const output = toolOutputs(scripted.prompts[1]).at(-1);
      expect(output?.type).toBe('error-text');
      expect(String(output?.value)).toMatch(/^KEYBRAKE_ENDPOINT_NOT_ALLOWED: .*POST \/v1\/refunds/);
      expect(running.fakeStripe.requests).toHaveLength(0);
    });
  });

  describe('when the team session was closed under a running member', () => {
    it('should tell the model its key was revoked', async () => {
      running = await startBillingTeam();
      const { team } = running;
      const scripted = scriptModel([{ toolCalls: [charge('cus_1', 500, 'call_1')] }, { text: 'My key was revoked.' }]);
      const agent = new Agent({
        id: 'billing',
        name: 'billing',
        instructions: 'Charge.',
        model: scripted.model,
        tools: withKeybrake(
          { chargeCustomer: createChargeTool(stripeFor(team.member('billing'))) },
          { member: 'billing' },
        ),
      });
      await team.close();

      await agent.generate('Charge cus_1 $5.');

      expect(String(toolOutputs(scripted.prompts[1]).at(-1)?.value)).toMatch(/^KEYBRAKE_KEY_REVOKED: /);
      expect(running.fakeStripe.requests).toHaveLength(0);
    });
  });

  describe('when a tool fails for a reason of its own', () => {
    it('should pass the error through unchanged', async () => {
      const lookup = createTool({
        id: 'lookup',
        description: 'Look up a customer.',
        inputSchema: z.object({ id: z.string() }),
        execute: async ({ id }) => {
          throw new Error(`No such customer: ${id}`);
        },
      });
      const scripted = scriptModel([{ toolCalls: [{ toolName: 'lookup', input: { id: 'cus_x' } }] }, { text: 'ok' }]);
      const agent = new Agent({
        id: 'billing',
        name: 'billing',
        instructions: 'Look up.',
        model: scripted.model,
        tools: withKeybrake({ lookup }, { member: 'billing' }),
      });

      await agent.generate('Find cus_x.');

      expect(toolOutputs(scripted.prompts[1])).toEqual([
        { toolName: 'lookup', type: 'error-text', value: 'No such customer: cus_x' },
      ]);
    });
  });

  describe('when a wrapped tool is executed directly', () => {
    it('should reject with an Error carrying the typed denial as its cause, and keep the original tool intact', async () => {
      running = await startBillingTeam({
        ...billingTeamPlan,
        members: { billing: { vendor: 'stripe', capUsd: 10, allowedEndpoints: ['POST /v1/payment_intents'] } },
      });
      const original = createChargeTool(stripeFor(running.team.member('billing')));
      const { chargeCustomer } = withKeybrake({ chargeCustomer: original }, { member: 'billing' });

      const error = await chargeCustomer
        .execute?.({ customer: 'cus_1', amountCents: 2000 }, { observe: noopObserve })
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/^KEYBRAKE_CAP_EXCEEDED: /);
      expect(findKeybrakeError(error)).toBeInstanceOf(CapExceededError);
      expect(chargeCustomer).not.toBe(original);
      expect(chargeCustomer.id).toBe('charge-customer');
    });
  });
});
