import type { TeamMember } from '@keybrake/core';
import { Agent } from '@mastra/core/agent';
import { afterEach, describe, expect, it } from 'vitest';
import { keybrakeDelegation } from '../delegation/keybrake-delegation.js';
import { memberAsTool } from '../delegation/member-as-tool.js';
import { createChargeTool, startBillingTeam, stripeFor } from '../test-utils/billing-team.js';
import { type ScriptStep, scriptModel } from '../test-utils/script-model.js';
import { withKeybrake } from '../tools/with-keybrake.js';

const leafAgent = (member: TeamMember, steps: ScriptStep[]) =>
  new Agent({
    id: member.name,
    name: member.name,
    description: `Charges (${member.name}).`,
    instructions: 'x',
    model: scriptModel(steps).model,
    tools: withKeybrake({ chargeCustomer: createChargeTool(stripeFor(member)) }, { member }),
  });
const overCap: ScriptStep[] = [
  { toolCalls: [{ toolName: 'chargeCustomer', input: { customer: 'c1', amountCents: 20_000 } }] },
  { text: 'Leaf could not charge.' },
];

describe('memberAsTool inside a withKeybrake-wrapped tool set', () => {
  let running: Awaited<ReturnType<typeof startBillingTeam>> | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it("should keep memberAsTool's headline and the member's reply in the error the supervisor reads", async () => {
    running = await startBillingTeam();
    const leaf = leafAgent(running.team.member('billing'), overCap);
    const model = scriptModel([{ toolCalls: [{ toolName: 'askBilling', input: { prompt: 'go' } }] }, { text: 'done' }]);
    const supervisor = new Agent({
      id: 'supervisor',
      name: 'supervisor',
      instructions: 'x',
      model: model.model,
      tools: withKeybrake({ askBilling: memberAsTool(leaf) }, { member: 'supervisor' }),
    });
    await supervisor.generate('go');
    const read = JSON.stringify(model.prompts[1]?.at(-1));
    expect(read).toContain('KEYBRAKE_CAP_EXCEEDED');
    expect(read).toContain('Keybrake stopped member \\"billing\\"');
    expect(read).toContain('Leaf could not charge.');
  });

  it('should tell the top supervisor of a three-level team that the middle member was stopped', async () => {
    running = await startBillingTeam();
    const leaf = leafAgent(running.team.member('billing'), overCap);
    const mid = new Agent({
      id: 'mid',
      name: 'mid',
      description: 'Runs billing.',
      instructions: 'x',
      model: scriptModel([
        { toolCalls: [{ toolName: 'askBilling', input: { prompt: 'go' } }] },
        { text: 'Mid: all done.' },
      ]).model,
      tools: withKeybrake({ askBilling: memberAsTool(leaf) }, { member: 'mid' }),
    });
    const top = scriptModel([{ toolCalls: [{ toolName: 'agent-mid', input: { prompt: 'go' } }] }, { text: 'done' }]);
    const supervisor = new Agent({
      id: 'top',
      name: 'top',
      instructions: 'x',
      model: top.model,
      agents: { mid },
      defaultOptions: { delegation: keybrakeDelegation() },
    });
    await supervisor.generate('go');
    const read = JSON.stringify(top.prompts[1]?.at(-1));
    expect(read).toContain('Mid: all done.');
    expect(read).toContain('KEYBRAKE_CAP_EXCEEDED');
  });
});
