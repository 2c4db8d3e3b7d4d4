import type { TeamMember } from '@keybrake/core';
import { Agent } from '@mastra/core/agent';
import { createTool } from '@mastra/core/tools';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createChargeTool, createSmsTool, startBillingTeam, stripeFor } from '../test-utils/billing-team.js';
import { type ScriptStep, scriptModel, toolOutputs } from '../test-utils/script-model.js';
import { withKeybrake } from '../tools/with-keybrake.js';
import { keybrakeDelegation } from './keybrake-delegation.js';

type Team = Awaited<ReturnType<typeof startBillingTeam>>;

const charge = (customer: string, amountCents: number) => ({
  toolName: 'chargeCustomer',
  input: { customer, amountCents },
});

function billingAgent(member: TeamMember, steps: ScriptStep[]) {
  const scripted = scriptModel(steps);
  const agent = new Agent({
    id: member.name,
    name: member.name,
    description: `Charges customers with Stripe (${member.name}).`,
    instructions: 'Charge the customers you are given.',
    model: scripted.model,
    tools: withKeybrake({ chargeCustomer: createChargeTool(stripeFor(member)) }, { member }),
  });
  return { agent, scripted };
}

const overCapBilling: ScriptStep[] = [
  { toolCalls: [charge('cus_1', 5000), charge('cus_2', 5000), charge('cus_3', 5000)] },
  { toolCalls: [charge('cus_4', 5000)] },
  { text: 'Charged cus_1, cus_2 and cus_3; cus_4 was refused.' },
];

describe('keybrakeDelegation', () => {
  let running: Team | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  describe('when a supervisor delegates to a member that hits its cap (agents: {})', () => {
    it('should show the supervisor the cap error with the member’s label, and let the team finish', async () => {
      running = await startBillingTeam();
      const { team, fakeStripe, fakeTwilio } = running;
      const billing = billingAgent(team.member('billing'), overCapBilling);
      const sms = (to: string) => ({ toolName: 'sendSms', input: { to, body: 'Your invoice is paid.' } });
      const notificationsModel = scriptModel([
        { toolCalls: [sms('+15005550001'), sms('+15005550002'), sms('+15005550003')] },
        { text: 'Texted 3 customers.' },
      ]);
      const notifications = new Agent({
        id: 'notifications',
        name: 'notifications',
        description: 'Texts customers.',
        instructions: 'Text the customers you are given.',
        model: notificationsModel.model,
        tools: withKeybrake({ sendSms: createSmsTool(team.member('notifications')) }, { member: 'notifications' }),
      });
      const supervisorModel = scriptModel([
        { toolCalls: [{ toolName: 'agent-billing', input: { prompt: 'Charge cus_1..cus_4 $50 each.' } }] },
        { toolCalls: [{ toolName: 'agent-notifications', input: { prompt: 'Text cus_1..cus_3: paid.' } }] },
        { text: 'Billing stopped at its $150 cap after 3 charges; I texted those 3 customers.' },
      ]);
      const supervisor = new Agent({
        id: 'supervisor',
        name: 'supervisor',
        instructions: 'Run the billing team.',
        model: supervisorModel.model,
        agents: { billing: billing.agent, notifications },
        defaultOptions: { delegation: keybrakeDelegation() },
      });

      const result = await supervisor.generate('Bill the 4 overdue customers and text them.');

      const [delegation] = toolOutputs(supervisorModel.prompts[1]);
      expect(delegation).toMatchObject({ toolName: 'agent-billing', type: 'text' });
      const seen = String(delegation?.value);
      expect(seen).toMatch(
        /^Charged cus_1, cus_2 and cus_3; cus_4 was refused\.\n\nKeybrake stopped member "billing" \(tool "chargeCustomer", 1 call denied\)\.\nKEYBRAKE_CAP_EXCEEDED: Keybrake denied this call/,
      );
      expect(JSON.parse(seen.split('\n').at(-1) ?? '')).toMatchObject({
        code: 'KEYBRAKE_CAP_EXCEEDED',
        label: 'billing-team/sess_test/billing',
        capUsd: 150,
        spentUsd: 150,
        attemptedUsd: 50,
      });
      expect(toolOutputs(supervisorModel.prompts[2]).at(-1)).toEqual({
        toolName: 'agent-notifications',
        type: 'text',
        value: 'Texted 3 customers.',
      });
      expect(result.text).toBe('Billing stopped at its $150 cap after 3 charges; I texted those 3 customers.');
      expect(fakeStripe.moneyMoved()).toHaveLength(3);
      expect(fakeTwilio.messages()).toHaveLength(3);
      expect(await team.member('billing').status()).toMatchObject({ spentUsd: 150 });
      const totals = (await team.audit()).totals;
      expect(totals.find((total) => total.label === 'billing-team/sess_test/billing')).toMatchObject({
        allowed: 3,
        denied: 1,
        spentMicros: 150_000_000,
      });
      expect(totals.find((total) => total.label === 'billing-team/sess_test/notifications')).toMatchObject({
        allowed: 3,
        denied: 0,
      });
      const transcript = JSON.stringify([
        supervisorModel.prompts,
        billing.scripted.prompts,
        notificationsModel.prompts,
        result.response,
        result.steps,
      ]);
      expect(transcript).not.toContain('kb_test_');
    });
  });

  describe('when the supervisor streams', () => {
    it('should carry the cap error into the streamed run the same way', async () => {
      running = await startBillingTeam();
      const billing = billingAgent(running.team.member('billing'), overCapBilling);
      const supervisorModel = scriptModel([
        { toolCalls: [{ toolName: 'agent-billing', input: { prompt: 'Charge cus_1..cus_4 $50 each.' } }] },
        { text: 'Billing hit its cap.' },
      ]);
      const supervisor = new Agent({
        id: 'supervisor',
        name: 'supervisor',
        instructions: 'Run the billing team.',
        model: supervisorModel.model,
        agents: { billing: billing.agent },
        defaultOptions: { delegation: keybrakeDelegation() },
      });

      const stream = await supervisor.stream('Bill the 4 overdue customers.');

      expect(await stream.text).toBe('Billing hit its cap.');
      expect(String(toolOutputs(supervisorModel.prompts[1])[0]?.value)).toContain(
        'Keybrake stopped member "billing" (tool "chargeCustomer", 1 call denied).\nKEYBRAKE_CAP_EXCEEDED: ',
      );
      expect(String(toolOutputs(billing.scripted.prompts[2]).at(-1)?.value)).toMatch(/^KEYBRAKE_CAP_EXCEEDED: /);
      expect(running.fakeStripe.moneyMoved()).toHaveLength(3);
    });
  });

  describe('when concurrent supervisor runs share it and their tool call ids repeat', () => {
    it('should report to each run its own member’s outcome', async () => {
      running = await startBillingTeam();
      const member = running.team.member('billing');
      const gates: Record<string, () => void> = {};
      const gated: Record<string, Promise<void>> = {
        A: new Promise((resolve) => (gates.A = resolve)),
        B: new Promise((resolve) => (gates.B = resolve)),
      };
      const pause = createTool({
        id: 'pause',
        description: 'Wait for the CRM.',
        inputSchema: z.object({ which: z.string() }),
        execute: async ({ which }) => {
          await gated[which];
          return 'ok';
        },
      });
      const billingModel = scriptModel((call) => {
        const text = JSON.stringify(call.prompt);
        const done = call.prompt.filter((message) => message.role === 'tool').length;
        if (text.includes('TASK-A')) {
          return done === 0
            ? { toolCalls: [{ toolName: 'pause', input: { which: 'A' } }] }
            : { text: 'A: looked up, nothing to charge.' };
        }
        if (done === 0) return { toolCalls: [charge('cus_9', 20_000)] };
        if (done === 1) return { toolCalls: [{ toolName: 'pause', input: { which: 'B' } }] };
        return { text: 'B: the charge was refused.' };
      });
      const billing = new Agent({
        id: 'billing',
        name: 'billing',
        description: 'Charges customers.',
        instructions: 'Charge.',
        model: billingModel.model,
        tools: { ...withKeybrake({ chargeCustomer: createChargeTool(stripeFor(member)) }, { member }), pause },
      });
      const supervisorModel = scriptModel((call) => {
        const which = JSON.stringify(call.prompt).includes('RUN-A') ? 'A' : 'B';
        if (call.prompt.some((message) => message.role === 'tool')) return { text: `${which} finished` };
        // A provider whose tool call ids are per-response indexes.
        return { toolCalls: [{ toolName: 'agent-billing', input: { prompt: `TASK-${which}` }, toolCallId: 'call_0' }] };
      });
      const supervisor = new Agent({
        id: 'supervisor',
        name: 'supervisor',
        instructions: 'Run the billing team.',
        model: supervisorModel.model,
        agents: { billing },
        defaultOptions: { delegation: keybrakeDelegation() },
      });

      const runA = supervisor.generate('RUN-A');
      await new Promise((resolve) => setTimeout(resolve, 200));
      const runB = supervisor.generate('RUN-B');
      for (let attempt = 0; attempt < 100; attempt++) {
        if ((await running.team.audit()).records.some((record) => record.decision === 'denied')) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      gates.A?.();
      await runA;
      gates.B?.();
      await runB;

      const readBy = (run: string) =>
        supervisorModel.prompts
          .filter((prompt) => JSON.stringify(prompt).includes(run) && prompt.some((message) => message.role === 'tool'))
          .map((prompt) => String(toolOutputs(prompt)[0]?.value))[0];
      expect(readBy('RUN-A')).toBe('A: looked up, nothing to charge.');
      expect(readBy('RUN-B')).toContain('KEYBRAKE_CAP_EXCEEDED');
    });
  });

  describe('when the supervisor runs without it', () => {
    it('should show the supervisor only the member’s own text (Mastra’s default)', async () => {
      running = await startBillingTeam();
      const billing = billingAgent(running.team.member('billing'), overCapBilling);
      const supervisorModel = scriptModel([
        { toolCalls: [{ toolName: 'agent-billing', input: { prompt: 'Charge cus_1..cus_4 $50 each.' } }] },
        { text: 'done' },
      ]);
      const supervisor = new Agent({
        id: 'supervisor',
        name: 'supervisor',
        instructions: 'Run the billing team.',
        model: supervisorModel.model,
        agents: { billing: billing.agent },
      });

      await supervisor.generate('Bill the 4 overdue customers.');

      expect(toolOutputs(supervisorModel.prompts[1])).toEqual([
        { toolName: 'agent-billing', type: 'text', value: 'Charged cus_1, cus_2 and cus_3; cus_4 was refused.' },
      ]);
    });
  });

  describe('when composed with the supervisor’s own delegation hooks', () => {
    it('should run them first and append the denial to their result text', async () => {
      running = await startBillingTeam();
      const billing = billingAgent(running.team.member('billing'), overCapBilling);
      const supervisorModel = scriptModel([
        { toolCalls: [{ toolName: 'agent-billing', input: { prompt: 'Charge cus_1..cus_4 $50 each.' } }] },
        { text: 'done' },
      ]);
      const started: string[] = [];
      const supervisor = new Agent({
        id: 'supervisor',
        name: 'supervisor',
        instructions: 'Run the billing team.',
        model: supervisorModel.model,
        agents: { billing: billing.agent },
      });

      await supervisor.generate('Bill the 4 overdue customers.', {
        delegation: keybrakeDelegation({
          onDelegationStart: ({ primitiveId }) => {
            started.push(primitiveId);
          },
          onDelegationComplete: () => ({ resultText: 'Billing report: partial.' }),
        }),
      });

      expect(started).toEqual(['billing']);
      const seen = String(toolOutputs(supervisorModel.prompts[1])[0]?.value);
      expect(seen).toMatch(/^Billing report: partial\.\n\nKeybrake stopped member "billing"/);
    });
  });

  describe('when two members charge in parallel against one $200 session cap', () => {
    it('should let exactly $200 through, and tell the supervisor which members were stopped', async () => {
      running = await startBillingTeam({
        label: 'billing-team/sess_parallel',
        capUsd: 200,
        ttl: '1h',
        members: {
          east: { vendor: 'stripe', capUsd: 150, allowedEndpoints: ['POST /v1/payment_intents'] },
          west: { vendor: 'stripe', capUsd: 150, allowedEndpoints: ['POST /v1/payment_intents'] },
        },
      });
      const { team, fakeStripe } = running;
      const fifteenCharges = (prefix: string): ScriptStep[] => [
        { toolCalls: Array.from({ length: 15 }, (_, i) => charge(`cus_${prefix}${i}`, 1000)) },
        { text: `${prefix} done.` },
      ];
      const east = billingAgent(team.member('east'), fifteenCharges('east'));
      const west = billingAgent(team.member('west'), fifteenCharges('west'));
      const supervisorModel = scriptModel([
        {
          toolCalls: [
            { toolName: 'agent-east', input: { prompt: 'Charge 15 eastern customers $10.' } },
            { toolName: 'agent-west', input: { prompt: 'Charge 15 western customers $10.' } },
          ],
        },
        { text: 'Both regions billed up to the session cap.' },
      ]);
      const supervisor = new Agent({
        id: 'supervisor',
        name: 'supervisor',
        instructions: 'Run both regions.',
        model: supervisorModel.model,
        agents: { east: east.agent, west: west.agent },
        defaultOptions: { delegation: keybrakeDelegation() },
      });

      await supervisor.generate('Bill all customers.');

      expect(fakeStripe.moneyMoved()).toHaveLength(20);
      expect(await team.status()).toMatchObject({ spentUsd: 200, remainingUsd: 0 });
      const totals = (await team.audit()).totals;
      expect(totals.reduce((sum, total) => sum + total.denied, 0)).toBe(10);
      const seen = toolOutputs(supervisorModel.prompts[1]);
      for (const name of ['east', 'west']) {
        const denied = totals.find((total) => total.label === `billing-team/sess_parallel/${name}`)?.denied ?? 0;
        const output = String(seen.find((entry) => entry.toolName === `agent-${name}`)?.value);
        if (denied === 0) {
          expect(output).toBe(`${name} done.`);
          continue;
        }
        expect(output).toContain(`Keybrake stopped member "${name}" (tool "chargeCustomer", ${denied} call`);
        expect(JSON.parse(output.split('\n').at(-1) ?? '')).toMatchObject({
          code: 'KEYBRAKE_CAP_EXCEEDED',
          label: `billing-team/sess_parallel/${name}`,
          limitingLabel: 'billing-team/sess_parallel',
          capUsd: 200,
        });
      }
    });
  });
});
