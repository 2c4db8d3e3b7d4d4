import type { TeamMember } from '@keybrake/core';
import { Agent } from '@mastra/core/agent';
import { afterEach, describe, expect, it } from 'vitest';
import { memberAsTool } from '../delegation/member-as-tool.js';
import { createChargeTool, startBillingTeam, stripeFor } from '../test-utils/billing-team.js';
import { type ScriptStep, scriptModel } from '../test-utils/script-model.js';
import { keybrakeHooks } from './keybrake-hooks.js';
import { withKeybrake } from './with-keybrake.js';

const leafAgent = (member: TeamMember, steps: ScriptStep[], hooksOnly = false) =>
  new Agent({
    id: member.name,
    name: member.name,
    description: `Charges (${member.name}).`,
    instructions: 'x',
    model: scriptModel(steps).model,
    ...(hooksOnly
      ? { tools: { chargeCustomer: createChargeTool(stripeFor(member)) }, hooks: keybrakeHooks() }
      : { tools: withKeybrake({ chargeCustomer: createChargeTool(stripeFor(member)) }, { member }) }),
  });
const overCap: ScriptStep[] = [
  { toolCalls: [{ toolName: 'chargeCustomer', input: { customer: 'c1', amountCents: 20_000 } }] },
  { text: 'Leaf could not charge.' },
];

describe('a supervisor with keybrakeHooks over memberAsTool', () => {
  let running: Awaited<ReturnType<typeof startBillingTeam>> | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it.each([
    ['withKeybrake + keybrakeHooks', true],
    ['keybrakeHooks only', false],
  ])("should keep memberAsTool's worded error (%s)", async (_name, wrap) => {
    running = await startBillingTeam();
    const leaf = leafAgent(running.team.member('billing'), overCap);
    const model = scriptModel([{ toolCalls: [{ toolName: 'askBilling', input: { prompt: 'go' } }] }, { text: 'done' }]);
    const tools = { askBilling: memberAsTool(leaf) };
    const supervisor = new Agent({
      id: 'supervisor',
      name: 'supervisor',
      instructions: 'x',
      model: model.model,
      tools: wrap ? withKeybrake(tools, { member: 'supervisor' }) : tools,
      hooks: keybrakeHooks(),
    });
    await supervisor.generate('go');
    const read = JSON.stringify(model.prompts[1]?.at(-1));
    expect(read).toContain('KEYBRAKE_CAP_EXCEEDED');
    expect(read).toContain('Keybrake stopped member \\"billing\\"');
    expect(read).toContain('Leaf could not charge.');
  });

  it("should audit a hook-only member's vendor call without the supervisor's tool name and call id", async () => {
    running = await startBillingTeam();
    const leaf = leafAgent(running.team.member('billing'), overCap, true);
    const model = scriptModel([
      { toolCalls: [{ toolName: 'askBilling', input: { prompt: 'go' }, toolCallId: 'sup_call_1' }] },
      { text: 'done' },
    ]);
    const supervisor = new Agent({
      id: 'supervisor',
      name: 'supervisor',
      instructions: 'x',
      model: model.model,
      tools: withKeybrake({ askBilling: memberAsTool(leaf) }, { member: 'supervisor' }),
    });
    await supervisor.generate('go');
    const denied = (await running.team.audit()).records.find((record) => record.decision === 'denied');
    expect(denied?.actor).toEqual({ member: 'billing' });
  });
});
