import { KeybrakeError, runCappedTool } from '@keybrake/core';
import { generateText, isStepCount, ToolLoopAgent, tool } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { createScriptedModel } from '../test-utils/create-scripted-model.js';
import { billingTools, openTestTeam, stripeFor } from '../test-utils/open-test-team.js';
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
    let calls = 0;
    const supervisor = new MockLanguageModelV4({
      doGenerate: async (options) => {
        if (calls++ < 1) return scripted.doGenerate(options);
        throw new Error('the model provider is overloaded');
      },
    });
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
