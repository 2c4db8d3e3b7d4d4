// A member denied, then paused for a tool approval: the delegation is resumed with a new request
// context under the same run and tool call, and the supervisor must still read the denial.
import { Mastra } from '@mastra/core';
import { Agent } from '@mastra/core/agent';
import { InMemoryStore } from '@mastra/core/storage';
import { createTool } from '@mastra/core/tools';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createChargeTool, startBillingTeam, stripeFor } from '../test-utils/billing-team.js';
import { scriptModel, toolOutputs } from '../test-utils/script-model.js';
import { withKeybrake } from '../tools/with-keybrake.js';
import { keybrakeDelegation } from './keybrake-delegation.js';

describe('keybrakeDelegation', () => {
  let running: Awaited<ReturnType<typeof startBillingTeam>> | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  describe('when a denied member is paused for a tool approval and resumed', () => {
    it('should still tell the supervisor of the denial made before the pause', async () => {
      running = await startBillingTeam();
      const member = running.team.member('billing');
      const notifyFinance = createTool({
        id: 'notify-finance',
        description: 'Tell finance (needs approval).',
        inputSchema: z.object({ note: z.string() }),
        requireApproval: true,
        execute: async ({ note }) => ({ sent: note }),
      });
      const billing = new Agent({
        id: 'billing',
        name: 'billing',
        description: 'Charges customers.',
        instructions: 'Charge.',
        model: scriptModel([
          { toolCalls: [{ toolName: 'chargeCustomer', input: { customer: 'cus_1', amountCents: 20_000 } }] },
          { toolCalls: [{ toolName: 'notifyFinance', input: { note: 'cap hit' } }] },
          { text: 'Could not charge cus_1.' },
        ]).model,
        tools: {
          ...withKeybrake({ chargeCustomer: createChargeTool(stripeFor(member)) }, { member }),
          notifyFinance,
        },
      });
      const supervisorModel = scriptModel([
        { toolCalls: [{ toolName: 'agent-billing', input: { prompt: 'Charge cus_1 $200.' } }] },
        { text: 'done' },
      ]);
      const supervisor = new Agent({
        id: 'supervisor',
        name: 'supervisor',
        instructions: 'Run billing.',
        model: supervisorModel.model,
        agents: { billing },
        defaultOptions: { delegation: keybrakeDelegation() },
      });
      new Mastra({ agents: { supervisor, billing }, storage: new InMemoryStore(), logger: false });

      const stream = await supervisor.stream('Bill cus_1.');
      let toolCallId: string | undefined;
      for await (const chunk of stream.fullStream)
        if (chunk.type === 'tool-call-approval') toolCallId = chunk.payload.toolCallId;
      expect(toolCallId).toBeDefined();
      const resumed = await supervisor.approveToolCall({ runId: stream.runId, toolCallId: toolCallId ?? '' });
      for await (const _ of resumed.fullStream) {
        // drained
      }

      const delegation = supervisorModel.prompts
        .flatMap((prompt) => toolOutputs(prompt))
        .find((output) => output.toolName === 'agent-billing');
      expect(String(delegation?.value)).toContain('Could not charge cus_1.');
      expect(String(delegation?.value)).toContain('KEYBRAKE_CAP_EXCEEDED');
      expect(running.fakeStripe.moneyMoved()).toHaveLength(0);
    });
  });
});
