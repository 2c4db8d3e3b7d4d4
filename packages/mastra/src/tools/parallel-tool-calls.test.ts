import { setTimeout as sleep } from 'node:timers/promises';
import type { TeamMember } from '@keybrake/core';
import { Agent } from '@mastra/core/agent';
import { createTool } from '@mastra/core/tools';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { keybrakeDelegation } from '../delegation/keybrake-delegation.js';
import { memberAsTool } from '../delegation/member-as-tool.js';
import { createBillingAgent, createChargeTool, startBillingTeam, stripeFor } from '../test-utils/billing-team.js';
import { type ModelPrompt, type ScriptStep, scriptModel } from '../test-utils/script-model.js';
import { withKeybrake } from '../tools/with-keybrake.js';

type Team = Awaited<ReturnType<typeof startBillingTeam>>;

const outputsById = (prompt: ModelPrompt | undefined) =>
  new Map(
    (prompt ?? []).flatMap((message) =>
      message.role === 'tool'
        ? message.content.flatMap((part) =>
            part.type === 'tool-result'
              ? [
                  [
                    part.toolCallId,
                    { type: part.output.type, value: 'value' in part.output ? part.output.value : undefined },
                  ] as const,
                ]
              : [],
          )
        : [],
    ),
  );

function slowCharge(member: TeamMember) {
  const stripe = stripeFor(member);
  return createTool({
    id: 'charge',
    description: 'Charge.',
    inputSchema: z.object({ customer: z.string(), amountCents: z.number(), wait: z.number() }),
    execute: async ({ customer, amountCents, wait }) => {
      await sleep(wait);
      await stripe.customers.retrieve(customer).catch(() => undefined);
      await sleep(wait);
      const intent = await stripe.paymentIntents.create({
        amount: amountCents,
        currency: 'usd',
        confirm: true,
        payment_method: 'pm_card_visa',
      });
      return { id: intent.id, amountCents };
    },
  });
}

describe('parallel tool calls and delegations', () => {
  let running: Team | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('should give each of 12 parallel calls in one step its own actor, and answer each denial to its own call', async () => {
    running = await startBillingTeam();
    const billing = running.team.member('billing');
    const amounts = [6000, 5000, 4000, 3000, 2000, 1000, 4500, 3500, 2500, 1500, 500, 700];
    const scripted = scriptModel([
      {
        toolCalls: amounts.map((amountCents, i) => ({
          toolName: 'charge',
          toolCallId: `call_${i}`,
          input: { customer: `cus_${i}`, amountCents, wait: (i * 7) % 13 },
        })),
      },
      { text: 'done' },
    ]);
    const agent = new Agent({
      id: 'billing',
      name: 'billing',
      instructions: 'x',
      model: scripted.model,
      tools: withKeybrake({ charge: slowCharge(billing) }, { member: billing }),
    });
    await agent.generate('go');
    const seen = outputsById(scripted.prompts[1]);
    expect(seen.size).toBe(amounts.length);
    const { records } = await running.team.audit();
    for (const [i, amount] of amounts.entries()) {
      const mine = records.filter((r) => r.actor?.toolCallId === `call_${i}`);
      expect(mine.map((r) => r.method).sort()).toEqual(['GET', 'POST']);
      expect(mine.every((r) => r.actor?.member === 'billing' && r.actor.tool === 'charge')).toBe(true);
      const post = mine.find((r) => r.method === 'POST');
      const out = seen.get(`call_${i}`);
      if (post?.decision === 'denied') {
        expect(out?.type).toBe('error-text');
        expect(JSON.parse(String(out?.value).split('\n').at(-1) ?? '{}')).toMatchObject({ attemptedUsd: amount / 100 });
      } else {
        expect(out?.type).toBe('json');
        expect(out?.value).toMatchObject({ amountCents: amount });
      }
    }
    expect(records.filter((r) => r.decision === 'denied').length).toBeGreaterThan(0);
    expect(running.fakeStripe.moneyMoved().reduce((s, m) => s + m.amount, 0)).toBeLessThanOrEqual(15_000);
  });

  const memberAgent = (member: TeamMember, steps: ScriptStep[]) => createBillingAgent(member, steps);
  const charges = (n: number, cents: number) => ({
    toolCalls: Array.from({ length: n }, (_, i) => ({
      toolName: 'chargeCustomer',
      input: { customer: `c${i}`, amountCents: cents },
    })),
  });

  for (const mode of ['delegation', 'memberAsTool'] as const) {
    it(`${mode}: should name in each of two parallel delegations only its own member's denial`, async () => {
      running = await startBillingTeam({
        label: 'team/sess',
        capUsd: 200,
        ttl: '1h',
        members: { east: { vendor: 'stripe', capUsd: 20 }, west: { vendor: 'stripe', capUsd: 100 } },
      });
      const east = memberAgent(running.team.member('east'), [charges(4, 1000), { text: 'east finished.' }]);
      const west = memberAgent(running.team.member('west'), [charges(4, 1000), { text: 'west finished.' }]);
      const names = mode === 'delegation' ? ['agent-east', 'agent-west'] : ['askEast', 'askWest'];
      const supervisorModel = scriptModel([
        {
          toolCalls: [
            { toolName: names[0] ?? '', input: { prompt: 'go' }, toolCallId: 'd_east' },
            { toolName: names[1] ?? '', input: { prompt: 'go' }, toolCallId: 'd_west' },
          ],
        },
        { text: 'done' },
      ]);
      const supervisor = new Agent({
        id: 'supervisor',
        name: 'supervisor',
        instructions: 'x',
        model: supervisorModel.model,
        ...(mode === 'delegation'
          ? { agents: { east, west }, defaultOptions: { delegation: keybrakeDelegation() } }
          : { tools: { askEast: memberAsTool(east), askWest: memberAsTool(west) } }),
      });
      await supervisor.generate('go');
      const seen = outputsById(supervisorModel.prompts[1]);
      const e = String(JSON.stringify(seen.get('d_east')));
      const w = String(JSON.stringify(seen.get('d_west')));
      expect(e).toContain('east finished.');
      expect(e).toContain('Keybrake stopped member \\"east\\"');
      expect(e).toContain('2 calls denied');
      expect(e).not.toContain('west');
      expect(w).toContain('west finished.');
      expect(w).not.toContain('Keybrake');
      expect(running.fakeStripe.moneyMoved()).toHaveLength(6);
    });
  }

  it('should keep a log per delegation when one member is delegated to twice at once', async () => {
    running = await startBillingTeam({
      label: 'team/sess',
      capUsd: 200,
      ttl: '1h',
      members: { east: { vendor: 'stripe', capUsd: 20 } },
    });
    let n = 0;
    const member = running.team.member('east');
    const east = new Agent({
      id: 'east',
      name: 'east',
      description: 'east',
      instructions: 'x',
      model: scriptModel((call) => {
        const last = call.prompt.at(-1);
        if (last?.role === 'tool') return { text: `east run finished` };
        n += 1;
        return n === 1 ? charges(3, 1000) : { toolCalls: [] };
      }).model,
      tools: withKeybrake({ chargeCustomer: createChargeTool(stripeFor(member)) }, { member }),
    });
    const supervisorModel = scriptModel([
      {
        toolCalls: [
          { toolName: 'agent-east', input: { prompt: 'go' }, toolCallId: 'd1' },
          { toolName: 'agent-east', input: { prompt: 'nothing' }, toolCallId: 'd2' },
        ],
      },
      { text: 'done' },
    ]);
    const supervisor = new Agent({
      id: 'supervisor',
      name: 'supervisor',
      instructions: 'x',
      model: supervisorModel.model,
      agents: { east },
      defaultOptions: { delegation: keybrakeDelegation() },
    });
    await supervisor.generate('go');
    const seen = outputsById(supervisorModel.prompts[1]);
    const texts = [JSON.stringify(seen.get('d1')), JSON.stringify(seen.get('d2'))];
    expect(texts.filter((t) => t.includes('Keybrake stopped'))).toHaveLength(1);
  });
});
