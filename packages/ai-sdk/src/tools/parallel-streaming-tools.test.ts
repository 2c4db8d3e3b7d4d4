import { setTimeout as sleep } from 'node:timers/promises';
import { generateText, isStepCount, tool } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createScriptedModel } from '../test-utils/create-scripted-model.js';
import { openTestTeam, stripeFor } from '../test-utils/open-test-team.js';
import { withKeybrake } from '../tools/with-keybrake.js';

describe('parallel streaming tools', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
  });
  it('should audit each generator step under its own tool call id', async () => {
    const { team, close: c } = await openTestTeam();
    close = c;
    const billing = team.member('billing');
    const stripe = stripeFor(billing);
    const tools = withKeybrake(
      {
        charge_batch: tool({
          inputSchema: z.object({ count: z.number(), wait: z.number() }),
          async *execute({ count, wait }) {
            for (let index = 0; index < count; index++) {
              await sleep(wait);
              await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', confirm: true });
              yield { charged: index + 1 };
            }
          },
        }),
      },
      { member: billing },
    );
    const model = createScriptedModel('billing', [
      {
        toolCalls: [
          { toolName: 'charge_batch', input: { count: 4, wait: 3 }, toolCallId: 'A' },
          { toolName: 'charge_batch', input: { count: 4, wait: 5 }, toolCallId: 'B' },
          { toolName: 'charge_batch', input: { count: 4, wait: 1 }, toolCallId: 'C' },
        ],
      },
      { text: 'done' },
    ]);
    await generateText({ model, tools, stopWhen: isStepCount(3), prompt: 'x' });
    const { records } = await team.audit();
    const byId = new Map<string, number>();
    for (const r of records) byId.set(r.actor?.toolCallId ?? '?', (byId.get(r.actor?.toolCallId ?? '?') ?? 0) + 1);
    expect([...byId.keys()].sort()).toEqual(['A', 'B', 'C']);
    expect(records.filter((r) => r.decision === 'allowed')).toHaveLength(7);
  });
});
