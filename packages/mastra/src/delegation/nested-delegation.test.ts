import { Agent } from '@mastra/core/agent';
import { afterEach, describe, expect, it } from 'vitest';
import { keybrakeDelegation } from '../delegation/keybrake-delegation.js';
import { memberAsTool } from '../delegation/member-as-tool.js';
import { createBillingAgent, startBillingTeam } from '../test-utils/billing-team.js';
import { type ScriptStep, scriptModel } from '../test-utils/script-model.js';
import { keybrakeHooks } from '../tools/keybrake-hooks.js';
import { withKeybrake } from '../tools/with-keybrake.js';

const overCap: ScriptStep[] = [
  { toolCalls: [{ toolName: 'chargeCustomer', input: { customer: 'c1', amountCents: 20_000 } }] },
  { text: 'Leaf could not charge.' },
];

describe('memberAsTool inside a capped tool set (withKeybrake, keybrakeHooks)', () => {
  let running: Awaited<ReturnType<typeof startBillingTeam>> | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it("should keep memberAsTool's headline and the member's reply in the error the supervisor reads", async () => {
    running = await startBillingTeam();
    const leaf = createBillingAgent(running.team.member('billing'), overCap);
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
    const leaf = createBillingAgent(running.team.member('billing'), overCap);
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

  it.each([
    ['withKeybrake + keybrakeHooks', true],
    ['keybrakeHooks only', false],
  ])("should keep memberAsTool's worded error (%s)", async (_name, wrap) => {
    running = await startBillingTeam();
    const leaf = createBillingAgent(running.team.member('billing'), overCap);
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
    const leaf = createBillingAgent(running.team.member('billing'), overCap, { hooksOnly: true });
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
