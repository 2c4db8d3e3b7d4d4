import { Agent } from '@mastra/core/agent';
import { afterEach, describe, expect, it } from 'vitest';
import { createBillingAgent, startBillingTeam } from '../test-utils/billing-team.js';
import { type ScriptStep, scriptModel, toolOutputs } from '../test-utils/script-model.js';
import { memberAsTool } from './member-as-tool.js';

type Team = Awaited<ReturnType<typeof startBillingTeam>>;

const charge = (customer: string) => ({ toolName: 'chargeCustomer', input: { customer, amountCents: 5000 } });

async function runSupervisor(team: Team['team'], memberSteps: ScriptStep[]) {
  const billing = createBillingAgent(team.member('billing'), memberSteps);
  const supervisorModel = scriptModel([
    { toolCalls: [{ toolName: 'askBilling', input: { prompt: 'Charge the overdue customers $50 each.' } }] },
    { text: 'Reported to finance.' },
  ]);
  const supervisor = new Agent({
    id: 'supervisor',
    name: 'supervisor',
    instructions: 'Run billing.',
    model: supervisorModel.model,
    tools: { askBilling: memberAsTool(billing) },
  });
  const result = await supervisor.generate('Bill the overdue customers.');
  return { result, prompts: supervisorModel.prompts };
}

describe('memberAsTool', () => {
  let running: Team | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  describe('when the member is stopped by its cap', () => {
    it('should fail the supervisor’s tool call with the structured cap error and the member’s reply', async () => {
      running = await startBillingTeam();
      const { result, prompts } = await runSupervisor(running.team, [
        { toolCalls: [charge('cus_1'), charge('cus_2'), charge('cus_3')] },
        { toolCalls: [charge('cus_4')] },
        { text: 'Charged 3 of 4.' },
      ]);

      expect(result.text).toBe('Reported to finance.');
      const [output] = toolOutputs(prompts[1]);
      expect(output).toMatchObject({ toolName: 'askBilling', type: 'error-text' });
      const lines = String(output?.value).split('\n');
      expect(lines[0]).toBe(
        'Keybrake stopped member "billing" (tool "chargeCustomer", 1 call denied). Its last reply: "Charged 3 of 4."',
      );
      expect(lines[1]).toMatch(
        /^KEYBRAKE_CAP_EXCEEDED: Keybrake denied this call: .*Budget \$150\.00, spent \$150\.00/,
      );
      expect(JSON.parse(lines[2] ?? '')).toMatchObject({
        code: 'KEYBRAKE_CAP_EXCEEDED',
        label: 'billing-team/sess_test/billing',
        capUsd: 150,
        spentUsd: 150,
      });
      expect(running.fakeStripe.moneyMoved()).toHaveLength(3);
      expect(JSON.stringify([prompts, result.response])).not.toContain('kb_test_');
    });
  });

  describe('when the member finishes within its budget', () => {
    it('should return the member’s reply as the tool result', async () => {
      running = await startBillingTeam();
      const { prompts } = await runSupervisor(running.team, [
        { toolCalls: [charge('cus_1')] },
        { text: 'Charged cus_1.' },
      ]);

      expect(toolOutputs(prompts[1])).toEqual([
        { toolName: 'askBilling', type: 'json', value: { text: 'Charged cus_1.' } },
      ]);
    });
  });
});
