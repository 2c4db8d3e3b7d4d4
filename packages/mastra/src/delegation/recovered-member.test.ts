import { afterEach, describe, expect, it } from 'vitest';
import { createBillingAgent, startBillingTeam, superviseOnce } from '../test-utils/billing-team.js';
import type { ScriptStep } from '../test-utils/script-model.js';
import { keybrakeDelegation } from './keybrake-delegation.js';
import { memberAsTool } from './member-as-tool.js';

type Team = Awaited<ReturnType<typeof startBillingTeam>>;
const charge = (customer: string, amountCents: number) => ({
  toolName: 'chargeCustomer',
  input: { customer, amountCents },
});
const recovering: ScriptStep[] = [
  { toolCalls: [charge('cus_1', 20_000)] }, // $200, over the $150 cap: denied
  { toolCalls: [charge('cus_1', 5_000)] }, // $50: allowed
  { text: 'Charged cus_1 $50. Task complete.' },
];
const stopped: ScriptStep[] = [
  { toolCalls: [charge('cus_1', 5_000)] },
  { toolCalls: [charge('cus_2', 20_000)] },
  { text: 'Charged cus_1; cus_2 was refused.' },
];

const billingAgent = (team: Team['team'], steps: ScriptStep[]) => createBillingAgent(team.member('billing'), steps);

describe('a member denied once that went on', () => {
  let running: Team | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it("memberAsTool should hand the supervisor the member's reply, and still report a member that stopped", async () => {
    running = await startBillingTeam();
    const ask = (steps: ScriptStep[]) =>
      superviseOnce('askBilling', { tools: { askBilling: memberAsTool(billingAgent((running as Team).team, steps)) } });
    expect(await ask(recovering)).toEqual({
      toolName: 'askBilling',
      type: 'json',
      value: {
        text: 'Charged cus_1 $50. Task complete.',
        keybrake: expect.stringMatching(
          /^Keybrake denied a call of member "billing" during the run \(KEYBRAKE_CAP_EXCEEDED/,
        ),
      },
    });
    expect(running.fakeStripe.moneyMoved()).toHaveLength(1);
    expect(String((await ask(stopped))?.value)).toMatch(/^Keybrake stopped member "billing"/);
  });

  it('keybrakeDelegation should not say the member was stopped, but still name the denial', async () => {
    running = await startBillingTeam();
    const output = await superviseOnce('agent-billing', {
      agents: { billing: billingAgent(running.team, recovering) },
      defaultOptions: { delegation: keybrakeDelegation() },
    });
    expect(running.fakeStripe.moneyMoved()).toHaveLength(1);
    expect(String(output?.value)).not.toContain('Keybrake stopped member');
    expect(String(output?.value)).toMatch(
      /Keybrake denied a call of member "billing" during the run \(KEYBRAKE_CAP_EXCEEDED: .*\); the member went on afterwards\.$/s,
    );
  });
});
