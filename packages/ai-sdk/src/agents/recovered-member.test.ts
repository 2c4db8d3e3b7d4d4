// A member denied once that goes on and finishes is not reported to the supervisor as stopped,
// but the denial is never hidden from it.
import { isStepCount, ToolLoopAgent, tool } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createScriptedModel, lastToolResults } from '../test-utils/create-scripted-model.js';
import { billingTools, openTestTeam, stripeFor } from '../test-utils/open-test-team.js';
import { withKeybrake } from '../tools/with-keybrake.js';
import { memberAsTool } from './member-as-tool.js';

/** A supervisor delegating one task to `member` through `memberAsTool`; returns its scripted model. */
async function superviseOnce(member: Parameters<typeof memberAsTool>[0], task: string) {
  const model = createScriptedModel('supervisor', (_call, turn) =>
    turn === 0 ? { toolCalls: [{ toolName: 'delegate_billing', input: { task } }] } : { text: 'ok' },
  );
  const supervisor = new ToolLoopAgent({
    model,
    tools: { delegate_billing: memberAsTool(member, { description: 'Charges customers.' }) },
    stopWhen: isStepCount(5),
  });
  await supervisor.generate({ prompt: 'Bill cus_1.' });
  return model;
}

describe('memberAsTool, when the member was denied once and went on', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it("should return the member's final text, with the denial it went on from", async () => {
    const { team, fakeStripe, close: closeTeam } = await openTestTeam();
    close = closeTeam;
    const billing = team.member('billing');
    const billingModel = createScriptedModel('billing', (_call, turn) =>
      turn === 0
        ? { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 200 } }] }
        : turn === 1
          ? { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 50 } }] }
          : { text: 'Charged cus_1 $50. Task complete.' },
    );
    const billingAgent = new ToolLoopAgent({
      model: billingModel,
      tools: withKeybrake(billingTools(stripeFor(billing)), { member: billing }),
      stopWhen: isStepCount(5),
    });
    const model = await superviseOnce(billingAgent, 'Charge cus_1 $50.');
    expect(fakeStripe.moneyMoved()).toHaveLength(1);
    expect(lastToolResults(model.doGenerateCalls[1])[0]?.output).toEqual({
      type: 'text',
      value: expect.stringMatching(
        /^Charged cus_1 \$50\. Task complete\.\n\nKeybrake denied a call of this member during the run \(KEYBRAKE_CAP_EXCEEDED: .*\); the member went on afterwards\.$/s,
      ),
    });
  });

  it('should not let a free tool call after the denial hide it behind a claim of success', async () => {
    const { team, fakeStripe, close: closeTeam } = await openTestTeam();
    close = closeTeam;
    const billing = team.member('billing');
    const billingModel = createScriptedModel('billing', (_call, turn) =>
      turn === 0
        ? { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 200 } }] } // over the $150 cap
        : turn === 1
          ? { toolCalls: [{ toolName: 'note', input: { text: 'x' } }] }
          : { text: 'Charged cus_1 $200. Task complete.' },
    );
    const note = tool({
      description: 'Take a note.',
      inputSchema: z.object({ text: z.string() }),
      execute: async () => 'ok',
    });
    const billingAgent = new ToolLoopAgent({
      model: billingModel,
      tools: { ...withKeybrake(billingTools(stripeFor(billing)), { member: billing }), note },
      stopWhen: isStepCount(5),
    });
    const model = await superviseOnce(billingAgent, 'Charge cus_1 $200.');
    expect(fakeStripe.moneyMoved()).toHaveLength(0);
    const [result] = lastToolResults(model.doGenerateCalls[1]);
    expect(JSON.stringify(result?.output)).toContain('KEYBRAKE_CAP_EXCEEDED');
  });
});
