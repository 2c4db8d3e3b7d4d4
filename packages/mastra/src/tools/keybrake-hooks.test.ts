import { Agent } from '@mastra/core/agent';
import { createTool } from '@mastra/core/tools';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { keybrakeDelegation } from '../delegation/keybrake-delegation.js';
import { billingTeamPlan, createChargeTool, startBillingTeam, stripeFor } from '../test-utils/billing-team.js';
import { type ScriptStep, scriptModel, toolOutputs } from '../test-utils/script-model.js';
import { keybrakeHooks } from './keybrake-hooks.js';
import { withKeybrake } from './with-keybrake.js';

type Team = Awaited<ReturnType<typeof startBillingTeam>>;

const smallBudget = {
  ...billingTeamPlan,
  members: { billing: { vendor: 'stripe', capUsd: 100, allowedEndpoints: ['POST /v1/payment_intents'] } },
};
const overCap: ScriptStep[] = [
  { toolCalls: [{ toolName: 'chargeCustomer', input: { customer: 'cus_1', amountCents: 6000 } }] },
  { toolCalls: [{ toolName: 'chargeCustomer', input: { customer: 'cus_2', amountCents: 6000 } }] },
  { text: 'Charged cus_1 only.' },
];

describe('keybrakeHooks', () => {
  let running: Team | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  describe('when an unwrapped tool of the agent is stopped by its cap', () => {
    it('should replace the tool error the model reads with the Keybrake denial', async () => {
      running = await startBillingTeam(smallBudget);
      const member = running.team.member('billing');
      const scripted = scriptModel(overCap);
      const agent = new Agent({
        id: 'billing',
        name: 'billing',
        instructions: 'Charge.',
        model: scripted.model,
        tools: { chargeCustomer: createChargeTool(stripeFor(member)) },
        hooks: keybrakeHooks(),
      });

      const result = await agent.generate('Charge cus_1 and cus_2 $60.');

      expect(result.text).toBe('Charged cus_1 only.');
      const output = toolOutputs(scripted.prompts[2]).at(-1);
      expect(output?.type).toBe('error-text');
      expect(String(output?.value)).toMatch(
        /^KEYBRAKE_CAP_EXCEEDED: Keybrake denied this call: .*Budget \$100\.00, spent \$60\.00, in flight \$0\.00, this call \$60\.00\..*Retrying will not help/,
      );
      expect(running.fakeStripe.moneyMoved()).toHaveLength(1);
      // Hooks run before and after execute, not around it: the audit knows the member, not the tool.
      const denied = (await running.team.audit()).records.find((record) => record.decision === 'denied');
      expect(denied?.actor).toEqual({ member: 'billing' });
    });
  });

  describe('when a hook-covered member is delegated to', () => {
    it('should report the denial to the supervisor under the agent’s name', async () => {
      running = await startBillingTeam(smallBudget);
      const member = running.team.member('billing');
      const billing = new Agent({
        id: 'billing',
        name: 'billing',
        description: 'Charges customers.',
        instructions: 'Charge.',
        model: scriptModel(overCap).model,
        tools: { chargeCustomer: createChargeTool(stripeFor(member)) },
        hooks: keybrakeHooks(),
      });
      const supervisorModel = scriptModel([
        { toolCalls: [{ toolName: 'agent-billing', input: { prompt: 'Charge cus_1 and cus_2 $60.' } }] },
        { text: 'done' },
      ]);
      const supervisor = new Agent({
        id: 'supervisor',
        name: 'supervisor',
        instructions: 'Run billing.',
        model: supervisorModel.model,
        agents: { billing },
        defaultOptions: { delegation: keybrakeDelegation() },
      });

      await supervisor.generate('Bill.');

      expect(String(toolOutputs(supervisorModel.prompts[1])[0]?.value)).toMatch(
        /^Charged cus_1 only\.\n\nKeybrake stopped member "billing" \(tool "chargeCustomer", 1 call denied\)\.\nKEYBRAKE_CAP_EXCEEDED: /,
      );
    });
  });

  describe('when combined with withKeybrake', () => {
    it('should report each denial once, with the wrapped tool’s audit actor', async () => {
      running = await startBillingTeam(smallBudget);
      const member = running.team.member('billing');
      const scripted = scriptModel(overCap);
      const billing = new Agent({
        id: 'billing',
        name: 'billing',
        description: 'Charges customers.',
        instructions: 'Charge.',
        model: scripted.model,
        tools: withKeybrake({ chargeCustomer: createChargeTool(stripeFor(member)) }, { member }),
        hooks: keybrakeHooks(),
      });
      const supervisorModel = scriptModel([
        { toolCalls: [{ toolName: 'agent-billing', input: { prompt: 'Charge cus_1 and cus_2 $60.' } }] },
        { text: 'done' },
      ]);
      const supervisor = new Agent({
        id: 'supervisor',
        name: 'supervisor',
        instructions: 'Run billing.',
        model: supervisorModel.model,
        agents: { billing },
        defaultOptions: { delegation: keybrakeDelegation() },
      });

      await supervisor.generate('Bill.');

      expect(String(toolOutputs(scripted.prompts[2]).at(-1)?.value).match(/KEYBRAKE_CAP_EXCEEDED: /g)).toHaveLength(1);
      expect(String(toolOutputs(supervisorModel.prompts[1])[0]?.value)).toContain('1 call denied');
      const denied = (await running.team.audit()).records.find((record) => record.decision === 'denied');
      expect(denied?.actor).toMatchObject({ member: 'billing', tool: 'chargeCustomer' });
    });
  });

  describe('when a tool fails for a reason of its own', () => {
    it('should leave the error as it is', async () => {
      const lookup = createTool({
        id: 'lookup',
        description: 'Look up a customer.',
        inputSchema: z.object({ id: z.string() }),
        execute: async () => {
          throw new Error('Customer service is down');
        },
      });
      const scripted = scriptModel([{ toolCalls: [{ toolName: 'lookup', input: { id: 'cus_x' } }] }, { text: 'ok' }]);
      const agent = new Agent({
        id: 'billing',
        name: 'billing',
        instructions: 'Look up.',
        model: scripted.model,
        tools: { lookup },
        hooks: keybrakeHooks({ member: 'billing' }),
      });

      await agent.generate('Find cus_x.');

      expect(toolOutputs(scripted.prompts[1])).toEqual([
        { toolName: 'lookup', type: 'error-text', value: 'Customer service is down' },
      ]);
    });
  });
});
