import { setTimeout as sleep } from 'node:timers/promises';
import { KeybrakeError } from '@keybrake/core';
import { generateText, isStepCount, ToolLoopAgent, tool } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { memberAsTool } from '../agents/member-as-tool.js';
import { createScriptedModel, lastToolResults } from '../test-utils/create-scripted-model.js';
import { billingTools, notificationTools, openTestTeam, stripeFor, twilioFor } from '../test-utils/open-test-team.js';
import { withKeybrake } from '../tools/with-keybrake.js';

describe('parallel tool calls in one step', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('should give each parallel call its own actor, and answer each denial to its own call', async () => {
    const { team, fakeStripe, close: c } = await openTestTeam();
    close = c;
    const billing = team.member('billing');
    const stripe = stripeFor(billing);
    const amounts = [60, 50, 40, 30, 20, 10, 45, 35];
    const tools = withKeybrake(
      {
        charge: tool({
          inputSchema: z.object({ customer: z.string(), amountUsd: z.number(), wait: z.number() }),
          execute: async ({ customer, amountUsd, wait }) => {
            await sleep(wait);
            // two vendor calls per tool call, interleaved with other calls
            await stripe.customers.retrieve(customer).catch(() => undefined);
            await sleep(wait);
            const intent = await stripe.paymentIntents.create({
              amount: amountUsd * 100,
              currency: 'usd',
              customer,
              payment_method: 'pm_card_visa',
              confirm: true,
            });
            return { id: intent.id, amountUsd };
          },
        }),
      },
      { member: billing },
    );
    const model = createScriptedModel('billing', [
      {
        toolCalls: amounts.map((amountUsd, index) => ({
          toolName: 'charge',
          toolCallId: `call_${index}`,
          input: { customer: `cus_${index}`, amountUsd, wait: (index * 7) % 13 },
        })),
      },
      { text: 'done' },
    ]);
    const result = await generateText({ model, tools, stopWhen: isStepCount(3), prompt: 'charge' });

    const seen = lastToolResults(model.doGenerateCalls[1]);
    expect(seen.map((r) => r.toolCallId)).toEqual(amounts.map((_, i) => `call_${i}`));
    const { records } = await team.audit();
    const byCall = new Map<string, string[]>();
    for (const record of records) {
      expect(record.actor?.member).toBe('billing');
      expect(record.actor?.tool).toBe('charge');
      const list = byCall.get(record.actor?.toolCallId ?? '?') ?? [];
      list.push(`${record.method} ${record.path.split('?')[0]} ${record.decision}`);
      byCall.set(record.actor?.toolCallId ?? '?', list);
    }
    // every call id has exactly its 2 records
    expect([...byCall.keys()].sort()).toEqual(amounts.map((_, i) => `call_${i}`).sort());
    for (const [id, list] of byCall) {
      const index = Number(id.slice(5));
      expect(list.some((line) => line.startsWith(`GET /v1/customers/cus_${index}`))).toBe(true);
      const charge = list.find((line) => line.startsWith('POST /v1/payment_intents'));
      const output = seen[index]?.output;
      if (charge?.endsWith('denied')) {
        expect(output?.type).toBe('error-text');
        const json = JSON.parse(String(output?.value).split('\n')[1] ?? '{}') as { attemptedUsd: number };
        expect(json.attemptedUsd).toBe(amounts[index]);
      } else {
        expect(output).toEqual({ type: 'json', value: expect.objectContaining({ amountUsd: amounts[index] }) });
      }
    }
    const moved = fakeStripe.moneyMoved().reduce((sum, m) => sum + m.amount, 0);
    expect(moved).toBeLessThanOrEqual(150_00);
    const errors = result.steps[0]?.content.filter((p) => p.type === 'tool-error') ?? [];
    expect(errors.every((p) => p.type === 'tool-error' && KeybrakeError.isInstance(p.error))).toBe(true);
    expect(errors.length).toBeGreaterThan(0);
    // Stripe SDK (maxNetworkRetries 2) never re-sent a denied call
    const posts = records.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(amounts.length);
  });

  it("should name its own member in each record when one agent holds two members' tools", async () => {
    const { team, close: c } = await openTestTeam();
    close = c;
    const billing = team.member('billing');
    const notifications = team.member('notifications');
    const tools = {
      ...withKeybrake(billingTools(stripeFor(billing)), { member: billing }),
      ...withKeybrake(notificationTools(twilioFor(notifications)), { member: notifications }),
    };
    const model = createScriptedModel('mixed', [
      {
        toolCalls: [
          { toolName: 'charge', input: { customer: 'cus_1', amountUsd: 5 }, toolCallId: 'c1' },
          { toolName: 'send_sms', input: { to: '+15005550006', body: 'hi' }, toolCallId: 's1' },
          { toolName: 'charge', input: { customer: 'cus_2', amountUsd: 5 }, toolCallId: 'c2' },
          { toolName: 'send_sms', input: { to: '+15005550007', body: 'hi' }, toolCallId: 's2' },
        ],
      },
      { text: 'done' },
    ]);
    await generateText({ model, tools, stopWhen: isStepCount(3), prompt: 'x' });
    const { records } = await team.audit();
    const actors = records.map((r) => `${r.actor?.toolCallId}:${r.actor?.member}:${r.actor?.tool}`).sort();
    expect(actors).toEqual([
      'c1:billing:charge',
      'c2:billing:charge',
      's1:notifications:send_sms',
      's2:notifications:send_sms',
    ]);
  });

  it('should name its own member and denial in each report when a supervisor delegates to two members at once', async () => {
    const {
      team,
      fakeStripe,
      close: c,
    } = await openTestTeam({
      east: { vendor: 'stripe', capUsd: 20 },
      west: { vendor: 'stripe', capUsd: 100 },
    });
    close = c;
    const memberTool = (name: 'east' | 'west') => {
      const member = team.member(name);
      const agent = new ToolLoopAgent({
        model: createScriptedModel(name, (call, turn) =>
          turn === 0
            ? {
                toolCalls: Array.from({ length: 5 }, (_, i) => ({
                  toolName: 'charge',
                  input: { customer: `cus_${name}_${i}`, amountUsd: 10 },
                })),
              }
            : { text: `${name}: ${lastToolResults(call).filter((r) => r.output.type === 'json').length} charged` },
        ),
        tools: withKeybrake(billingTools(stripeFor(member)), { member }),
        stopWhen: isStepCount(4),
      });
      const delegate = { [`delegate_${name}`]: memberAsTool(agent, { description: name }) };
      return process.env.WRAP ? withKeybrake(delegate, { member: 'supervisor' }) : delegate;
    };
    const model = createScriptedModel('supervisor', (call, turn) =>
      turn === 0
        ? {
            toolCalls: [
              { toolName: 'delegate_east', input: { task: 't' }, toolCallId: 'd_east' },
              { toolName: 'delegate_west', input: { task: 't' }, toolCallId: 'd_west' },
            ],
          }
        : {
            text: lastToolResults(call)
              .map((r) => `${r.toolCallId}=${r.output.type}:${String(r.output.value)}`)
              .join('||'),
          },
    );
    const result = await generateText({
      model,
      tools: { ...memberTool('east'), ...memberTool('west') },
      stopWhen: isStepCount(3),
      prompt: 'x',
    });
    const seen = lastToolResults(model.doGenerateCalls[1]);
    const east = seen.find((r) => r.toolCallId === 'd_east');
    const west = seen.find((r) => r.toolCallId === 'd_west');
    expect(east?.output.type).toBe('error-text');
    expect(String(east?.output.value)).toContain('"label":"billing-team/test/east"');
    expect(String(east?.output.value)).toContain("The member's last report: east: 2 charged");
    expect(west?.output).toEqual({ type: 'text', value: 'west: 5 charged' });
    expect(fakeStripe.moneyMoved()).toHaveLength(7);
    const { records } = await team.audit();
    expect(records.every((r) => r.label === `billing-team/test/${r.actor?.member}`)).toBe(true);
    expect(result.text).toContain('d_east=error-text');
  });
});
