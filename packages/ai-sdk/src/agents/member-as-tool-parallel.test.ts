import { KeybrakeError, runCappedTool } from '@keybrake/core';
import { generateText, isStepCount, ToolLoopAgent, tool } from 'ai';
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { createScriptedModel, failsAfter } from '../test-utils/create-scripted-model.js';
import { billingTools, chargeCard, openTestTeam, stripeFor } from '../test-utils/open-test-team.js';
import { withKeybrake } from '../tools/with-keybrake.js';
import { memberAsTool } from './member-as-tool.js';

let close: (() => Promise<void>) | undefined;
afterEach(async () => close?.());

const stripeMember = { vendor: 'stripe' as const, capUsd: 150, allowedEndpoints: ['POST /v1/payment_intents'] };

for (const withSibling of [false, true]) {
  it(`should keep the stop of a member when a parallel sibling delegation went on (sibling: ${withSibling})`, async () => {
    const { team, close: c } = await openTestTeam({ billing: stripeMember, refunds: stripeMember });
    close = c;
    const note = tool({ inputSchema: z.object({ text: z.string() }), execute: async () => 'noted' });
    const memberAgent = (name: 'billing' | 'refunds', turns: Parameters<typeof createScriptedModel>[1]) =>
      new ToolLoopAgent({
        model: createScriptedModel(name, turns),
        tools: { ...withKeybrake(billingTools(stripeFor(team.member(name))), { member: team.member(name) }), note },
        stopWhen: isStepCount(5),
      });
    // billing: denied ($500 over its $150 cap), then stops.
    const billing = memberAgent('billing', [
      { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 500 } }] },
      { text: 'Could not charge.' },
    ]);
    // refunds: denied too, then goes on with a free note (a later step), so it ends after billing.
    const refunds = memberAgent('refunds', [
      { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_2', amountUsd: 500 } }] },
      { toolCalls: [{ toolName: 'note', input: { text: 'skipped' } }] },
      { text: 'Noted it.' },
    ]);
    const scripted = createScriptedModel('supervisor', [
      {
        toolCalls: [
          { toolName: 'delegate_billing', input: { task: 'Charge cus_1.' } },
          ...(withSibling ? [{ toolName: 'delegate_refunds', input: { task: 'Charge cus_2.' } }] : []),
        ],
      },
    ]);
    const supervisor = failsAfter(scripted, 1);
    // The lead's tool runs the supervisor (the README pattern: delegations not wrapped).
    const error = await runCappedTool({ member: 'lead', tool: 'ask_supervisor', toolCallId: 'g1' }, () =>
      generateText({
        model: supervisor,
        tools: {
          delegate_billing: memberAsTool(billing, { description: 'Billing.' }),
          delegate_refunds: memberAsTool(refunds, { description: 'Refunds.' }),
        },
        stopWhen: isStepCount(3),
        maxRetries: 0,
        prompt: 'Bill.',
      }),
    ).catch((e: unknown) => e);
    // billing was stopped by its cap: the lead's run must answer that denial, not an error to retry.
    expect(KeybrakeError.isInstance(error)).toBe(true);
  });
}

for (const wrapDelegation of [false, true]) {
  it(`should not read a member that went on as stopped when its parallel denials ended out of call order (delegation ${wrapDelegation ? 'in' : 'outside'} withKeybrake)`, async () => {
    const { team, close: c } = await openTestTeam();
    close = c;
    const billing = team.member('billing');
    const stripe = stripeFor(billing);
    const paid = {
      // Called first in the step, but its denial ends last.
      slowCharge: tool({
        inputSchema: z.object({ customer: z.string() }),
        execute: async ({ customer }) => {
          await new Promise((r) => setTimeout(r, 150));
          return (await chargeCard(stripe, customer, 500)).id;
        },
      }),
      fastCharge: tool({
        inputSchema: z.object({ customer: z.string() }),
        execute: async ({ customer }) => (await chargeCard(stripe, customer, 500)).id,
      }),
    };
    const note = tool({ inputSchema: z.object({ text: z.string() }), execute: async () => 'noted' });
    const member = new ToolLoopAgent({
      model: createScriptedModel('billing', [
        {
          toolCalls: [
            { toolName: 'slowCharge', input: { customer: 'cus_1' } }, // denied (cap), ends last
            { toolName: 'fastCharge', input: { customer: 'cus_2' } }, // denied (cap), ends first
          ],
        },
        { toolCalls: [{ toolName: 'note', input: { text: 'could not charge' } }] }, // goes on
        { text: 'Could not charge; noted it.' },
      ]),
      tools: { ...withKeybrake(paid, { member: billing }), note },
      stopWhen: isStepCount(5),
    });
    const delegate = { delegate_billing: memberAsTool(member, { description: 'Charges customers.' }) };
    const error = await runCappedTool({ member: 'lead', tool: 'ask_supervisor', toolCallId: 'g1' }, async () => {
      await generateText({
        model: createScriptedModel('supervisor', [
          { toolCalls: [{ toolName: 'delegate_billing', input: { task: 'Charge cus_1 and cus_2.' } }] },
          { text: 'done' },
        ]),
        tools: wrapDelegation ? withKeybrake(delegate, { member: 'supervisor' }) : delegate,
        stopWhen: isStepCount(3),
        prompt: 'Bill.',
      });
      throw new Error('CRM unavailable');
    }).catch((e: unknown) => e);
    // billing went on (memberAsTool answered a note, not a stop): the lead's own failure stays its own.
    expect(error).toMatchObject({ message: 'CRM unavailable' });
  });
}

it('should keep the stop of a delegation when a parallel delegation to the same member went on', async () => {
  const { team, close: c } = await openTestTeam();
  close = c;
  const billing = team.member('billing');
  const note = tool({
    inputSchema: z.object({ text: z.string() }),
    execute: async () => {
      await new Promise((r) => setTimeout(r, 100));
      return 'noted';
    },
  });
  const tools = { ...withKeybrake(billingTools(stripeFor(billing)), { member: billing }), note };
  // One delegation tool, called twice in parallel with two tasks: each call runs the billing member.
  const delegate = memberAsTool(
    (task, options) =>
      new ToolLoopAgent({
        model: task.includes('cus_1')
          ? createScriptedModel('billing-1', [
              { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 500 } }] }, // denied (cap)
              { text: 'Could not charge.' }, // stops
            ])
          : createScriptedModel('billing-2', [
              { toolCalls: [{ toolName: 'note', input: { text: 'start' } }] },
              { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_2', amountUsd: 20 } }] }, // ok, later
              { text: 'Charged.' },
            ]),
        tools,
        stopWhen: isStepCount(5),
      }).generate({ prompt: task, ...options }),
    { description: 'Billing.' },
  );
  const scripted = createScriptedModel('supervisor', [
    {
      toolCalls: [
        { toolName: 'delegate_billing', input: { task: 'Charge cus_1 $500.' } },
        { toolName: 'delegate_billing', input: { task: 'Charge cus_2 $20.' } },
      ],
    },
  ]);
  const supervisor = failsAfter(scripted, 1);
  const error = await runCappedTool({ member: 'lead', tool: 'ask_supervisor', toolCallId: 'g1' }, () =>
    generateText({
      model: supervisor,
      tools: { delegate_billing: delegate },
      stopWhen: isStepCount(3),
      maxRetries: 0,
      prompt: 'Bill.',
    }),
  ).catch((e: unknown) => e);
  // The cus_1 delegation was stopped by its cap: the lead's run must answer that denial, not an error to retry.
  expect(KeybrakeError.isInstance(error)).toBe(true);
});
