import { ToolMessage } from '@langchain/core/messages';
import { fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { createAgent } from 'langchain';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { keybrakeMiddleware } from './keybrake-middleware.js';
import { parseKeybrakeDenials } from './parse-keybrake-denials.js';
import { callTools } from './test-utils/call-tools.js';
import { chargeTool, openTestTeam, type TestTeam } from './test-utils/open-test-team.js';

/** A `returnDirect` tool: its answer ends the run as the member's final message. */
const directTool = (answer: string) =>
  tool(async () => answer, {
    name: 'invoice_summary',
    description: 'The summary, returned to the user as is.',
    schema: z.object({}),
    returnDirect: true,
  });

describe('keybrakeMiddleware when a returnDirect tool ends the run', () => {
  let context: TestTeam;
  beforeEach(async () => {
    context = await openTestTeam({ members: { billing: { vendor: 'stripe', capUsd: 150 } } });
  });
  afterEach(() => context.close());

  const run = async (answer: string) => {
    const billing = context.team.member('billing');
    const [customer = ''] = context.customers;
    const model = fakeModel()
      .respond(callTools([{ name: 'charge_customer', args: { customer, amountUsd: 200 } }]))
      .respond(callTools([{ name: 'invoice_summary', args: {} }]));
    const agent = createAgent({
      model,
      name: 'billing',
      tools: [chargeTool(billing), directTool(answer)],
      middleware: [keybrakeMiddleware({ member: billing })],
    });
    const result = await agent.invoke({ messages: [{ role: 'user', content: 'Charge $200, then summarise.' }] });
    expect(model.calls).toHaveLength(2);
    return result.messages;
  };

  it("should keep the tool's answer as the final message, with the report after it", async () => {
    const messages = await run('INVOICE SUMMARY: 3 open invoices, $420 due.');

    const final = messages.at(-1);
    expect(ToolMessage.isInstance(final) && final.name).toBe('invoice_summary');
    expect(final?.text).toMatch(
      /^INVOICE SUMMARY: 3 open invoices, \$420 due\.\n\nKeybrake denied 1 call of member "billing":/,
    );
    expect(parseKeybrakeDenials(final ? [final] : []).map((denial) => denial.code)).toEqual(['KEYBRAKE_CAP_EXCEEDED']);
    expect(
      messages.filter((message) => ToolMessage.isInstance(message) && message.name === 'invoice_summary'),
    ).toHaveLength(1);
  });

  it('should not repeat a report the answer already carries', async () => {
    const carried =
      'Keybrake denied 2 calls of member "ledger":\nKEYBRAKE_CAP_EXCEEDED: Keybrake denied this call.\n{"code":"KEYBRAKE_CAP_EXCEEDED","message":"Keybrake denied this call.","retryable":false}';
    const messages = await run(`Summary from the ledger member.\n\n${carried}`);

    const text = messages.at(-1)?.text ?? '';
    expect(text.split('Keybrake denied 2 calls of member "ledger"')).toHaveLength(2);
    expect(text).toContain('Keybrake denied 1 call of member "billing":');
  });
});
