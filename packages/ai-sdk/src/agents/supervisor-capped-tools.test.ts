import { generateText, isStepCount, ToolLoopAgent } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { afterEach, expect, it } from 'vitest';
import { memberAsTool } from '../agents/member-as-tool.js';
import { createScriptedModel, lastToolResults } from '../test-utils/create-scripted-model.js';
import { billingTools, openTestTeam, stripeFor } from '../test-utils/open-test-team.js';
import { withKeybrake } from '../tools/with-keybrake.js';

let close: (() => Promise<void>) | undefined;
afterEach(async () => close?.());

it("should keep memberAsTool's last report when the supervisor's own tool set is wrapped with withKeybrake too", async () => {
  const { team, close: c } = await openTestTeam();
  close = c;
  const billing = team.member('billing');
  const member = new ToolLoopAgent({
    model: createScriptedModel('billing', [
      { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 200 } }] },
      { text: 'Could not charge cus_1.' },
    ]),
    tools: withKeybrake(billingTools(stripeFor(billing)), { member: billing }),
    stopWhen: isStepCount(4),
  });
  const model = createScriptedModel('supervisor', [
    { toolCalls: [{ toolName: 'delegate_billing', input: { task: 'Charge cus_1 $200.' } }] },
    { text: 'done' },
  ]);
  await generateText({
    model,
    // the supervisor's own tools are capped too (its vendor tools live in the same set)
    tools: withKeybrake(
      { delegate_billing: memberAsTool(member, { description: 'Billing.' }) },
      { member: 'supervisor' },
    ),
    stopWhen: isStepCount(3),
    prompt: 'Bill.',
  });
  const value = String(lastToolResults(model.doGenerateCalls[1])[0]?.output.value);
  expect(value).toMatch(/^KEYBRAKE_CAP_EXCEEDED: /);
  expect(value).toContain("The member's last report: Could not charge cus_1.");
});

it("should keep memberAsTool's 'went on' note, not the earlier denial, when the supervisor's tool set is wrapped with withKeybrake", async () => {
  const { team, fakeStripe, close: c } = await openTestTeam();
  close = c;
  const billing = team.member('billing');
  // $500 (denied), then $5 (charged) in the next step, then the member's provider fails.
  const scripted = createScriptedModel('billing', [
    { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 500 } }] },
    { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 5 } }] },
  ]);
  let calls = 0;
  const failing = new MockLanguageModelV4({
    doGenerate: async (options) => {
      if (calls++ < 2) return scripted.doGenerate(options);
      throw new Error('the model provider is overloaded');
    },
  });
  const member = new ToolLoopAgent({
    model: failing,
    tools: withKeybrake(billingTools(stripeFor(billing)), { member: billing }),
    stopWhen: isStepCount(5),
    maxRetries: 0,
  });
  const model = createScriptedModel('supervisor', [
    { toolCalls: [{ toolName: 'delegate_billing', input: { task: 'Charge cus_1.' } }] },
    { text: 'done' },
  ]);
  await generateText({
    model,
    // the supervisor's own tools are capped too (as in supervisor-capped-tools.test.ts)
    tools: withKeybrake(
      { delegate_billing: memberAsTool(member, { description: 'Billing.' }) },
      { member: 'supervisor' },
    ),
    stopWhen: isStepCount(3),
    prompt: 'Bill.',
  });
  expect(fakeStripe.moneyMoved()).toHaveLength(1);
  const value = String(lastToolResults(model.doGenerateCalls[1])[0]?.output.value);
  // Without the supervisor's withKeybrake, memberAsTool answers this (member-as-tool.test.ts).
  expect(value).toMatch(/^Error: the model provider is overloaded\n\nKeybrake denied a call of this member/);
  expect(value).toContain('the member went on afterwards');
});
