// A member denied once that goes on and finishes is not reported to the supervisor as stopped.
import { isStepCount, ToolLoopAgent } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { createScriptedModel, lastToolResults } from '../test-utils/create-scripted-model.js';
import { billingTools, openTestTeam, stripeFor } from '../test-utils/open-test-team.js';
import { withKeybrake } from '../tools/with-keybrake.js';
import { memberAsTool } from './member-as-tool.js';

describe('memberAsTool, when the member was denied once and went on', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it("should return the member's final text", async () => {
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
    const model = createScriptedModel('supervisor', (_call, turn) =>
      turn === 0
        ? { toolCalls: [{ toolName: 'delegate_billing', input: { task: 'Charge cus_1 $50.' } }] }
        : { text: 'ok' },
    );
    const supervisor = new ToolLoopAgent({
      model,
      tools: { delegate_billing: memberAsTool(billingAgent, { description: 'Charges customers.' }) },
      stopWhen: isStepCount(5),
    });
    await supervisor.generate({ prompt: 'Bill cus_1.' });
    expect(fakeStripe.moneyMoved()).toHaveLength(1);
    expect(lastToolResults(model.doGenerateCalls[1])[0]?.output).toEqual({
      type: 'text',
      value: 'Charged cus_1 $50. Task complete.',
    });
  });
});
