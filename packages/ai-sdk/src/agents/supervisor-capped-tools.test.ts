import { generateText, isStepCount, ToolLoopAgent, tool } from 'ai';
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { memberAsTool } from '../agents/member-as-tool.js';
import { createScriptedModel, failsAfter, lastToolResults } from '../test-utils/create-scripted-model.js';
import { billingTools, openTestTeam, stripeFor } from '../test-utils/open-test-team.js';
import { withKeybrake } from '../tools/with-keybrake.js';

let close: (() => Promise<void>) | undefined;
afterEach(async () => close?.());

/**
 * What the supervisor's model read of one delegation to `member`: its tool set wrapped with
 * `withKeybrake` (its vendor tools live in the same set), unless `wrap` is false.
 */
async function delegateOnce(member: Parameters<typeof memberAsTool>[0], { wrap = true } = {}): Promise<string> {
  const model = createScriptedModel('supervisor', [
    { toolCalls: [{ toolName: 'delegate_billing', input: { task: 'Charge cus_1.' } }] },
    { text: 'done' },
  ]);
  const delegate = { delegate_billing: memberAsTool(member, { description: 'Billing.' }) };
  await generateText({
    model,
    tools: wrap ? withKeybrake(delegate, { member: 'supervisor' }) : delegate,
    stopWhen: isStepCount(3),
    prompt: 'Bill.',
  });
  return String(lastToolResults(model.doGenerateCalls[1])[0]?.output.value);
}

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
  const value = await delegateOnce(member);
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
  const failing = failsAfter(scripted, 2);
  const member = new ToolLoopAgent({
    model: failing,
    tools: withKeybrake(billingTools(stripeFor(billing)), { member: billing }),
    stopWhen: isStepCount(5),
    maxRetries: 0,
  });
  const value = await delegateOnce(member);
  expect(fakeStripe.moneyMoved()).toHaveLength(1);
  // Without the supervisor's withKeybrake, memberAsTool answers this (member-as-tool.test.ts).
  expect(value).toMatch(/^Error: the model provider is overloaded\n\nKeybrake denied a call of this member/);
  expect(value).toContain('the member went on afterwards');
});

for (const wrapDelegation of [false, true]) {
  it(`should read a note, not a stop, for a member that went on with a free tool and then failed (delegation ${wrapDelegation ? 'in' : 'outside'} withKeybrake)`, async () => {
    const { team, close: c } = await openTestTeam();
    close = c;
    const billing = team.member('billing');
    const scripted = createScriptedModel('billing', [
      { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 500 } }] }, // denied (cap)
      { toolCalls: [{ toolName: 'note', input: { text: 'could not charge' } }] }, // goes on: a free tool
    ]);
    const failing = failsAfter(scripted, 2);
    const note = tool({ inputSchema: z.object({ text: z.string() }), execute: async () => 'noted' });
    const member = new ToolLoopAgent({
      model: failing,
      // The pattern of recovered-member.test.ts: only the paid tools capped, a free one beside them.
      tools: { ...withKeybrake(billingTools(stripeFor(billing)), { member: billing }), note },
      stopWhen: isStepCount(5),
      maxRetries: 0,
    });
    const value = await delegateOnce(member, { wrap: wrapDelegation });
    // memberAsTool's own answer: the run's error, the denial as a note ("went on").
    expect(value).toMatch(/^Error: the model provider is overloaded\n\nKeybrake denied a call of this member/);
    expect(value).toContain('the member went on afterwards');
  });
}
