import { generateText, isStepCount, ToolLoopAgent, tool } from 'ai';
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { createScriptedModel, lastToolResults } from '../test-utils/create-scripted-model.js';
import { billingTools, openTestTeam, stripeFor } from '../test-utils/open-test-team.js';
import { withKeybrake } from './with-keybrake.js';

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
});

for (const streaming of [false, true]) {
  it(`should answer a supervisor tool that fails after its member was stopped with the denial (${streaming ? 'streaming' : 'plain'} tool)`, async () => {
    const { team, close: c } = await openTestTeam();
    close = c;
    const billing = team.member('billing');
    const member = new ToolLoopAgent({
      model: createScriptedModel('billing', [
        { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 500 } }] }, // denied
        { text: 'Could not charge cus_1.' },
      ]),
      tools: withKeybrake(billingTools(stripeFor(billing)), { member: billing }),
      stopWhen: isStepCount(5),
    });
    const run = async () => (await member.generate({ prompt: 'Charge cus_1 $500.' })).text;
    const inputSchema = z.object({ task: z.string() });
    const delegate = streaming
      ? tool({
          inputSchema,
          async *execute() {
            yield { progress: await run() };
            throw new Error('CRM unavailable: could not save the billing note');
          },
        })
      : tool({
          inputSchema,
          execute: async (): Promise<string> => {
            await run();
            throw new Error('CRM unavailable: could not save the billing note');
          },
        });
    const model = createScriptedModel('supervisor', [
      { toolCalls: [{ toolName: 'delegate_billing', input: { task: 'Charge cus_1.' } }] },
      { text: 'done' },
    ]);
    await generateText({
      model,
      tools: withKeybrake({ delegate_billing: delegate }, { member: 'supervisor' }),
      stopWhen: isStepCount(3),
      prompt: 'Bill.',
    });
    const value = String(lastToolResults(model.doGenerateCalls[1])[0]?.output.value);
    expect(value).toMatch(/^KEYBRAKE_CAP_EXCEEDED: /);
  });
}
