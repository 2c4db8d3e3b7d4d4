import { parseKeybrakeDenials } from '@keybrake/langchain';
import { AIMessage, type BaseMessage, ToolMessage } from '@langchain/core/messages';
import { type FakeBuiltModel, fakeModel } from '@langchain/core/testing';
import type { DemoCustomer } from './demo-customers.js';

/** The scripted (offline) models of the team: LangChain's own `fakeModel()`, one per agent. */
export interface ScriptedModels {
  supervisor: FakeBuiltModel;
  billing: FakeBuiltModel;
  notifications: FakeBuiltModel;
}

let callId = 0;
const toolCalls = (calls: { name: string; args: Record<string, unknown> }[], content = '') =>
  new AIMessage({
    content,
    tool_calls: calls.map(({ name, args }) => ({ name, args, id: `call_${++callId}`, type: 'tool_call' as const })),
  });

const toolResults = (messages: BaseMessage[], name: string) =>
  messages.filter((message): message is ToolMessage => ToolMessage.isInstance(message) && message.name === name);

/**
 * Scripts the billing team: a supervisor that delegates billing, then notifications; a confused
 * billing member that charges all 40 customers $5 (in batches of 10) instead of the 4 that are
 * due; a notification member that texts the 4 due customers.
 *
 * @param customers - The demo customers.
 * @returns One scripted model per agent; their `.calls` hold what each model received.
 * @example
 * ```ts
 * const models = scriptedModels(customers);
 * models.supervisor.calls[1]?.messages; // what the supervisor read after billing handed back
 * ```
 */
export function scriptedModels(customers: readonly DemoCustomer[]): ScriptedModels {
  const due = customers.filter((customer) => customer.due);
  const batches = [0, 10, 20, 30].map((start) => customers.slice(start, start + 10));

  const billing = fakeModel();
  for (const batch of batches) {
    billing.respond(
      toolCalls(batch.map((customer) => ({ name: 'charge_customer', args: { customer: customer.id, amountUsd: 5 } }))),
    );
  }
  billing.respond((messages) => {
    const results = toolResults(messages, 'charge_customer');
    const charged = results.filter((result) => result.status !== 'error').length;
    return new AIMessage(`Charged ${charged} of ${results.length} customers $5; the rest were refused.`);
  });

  const notifications = fakeModel()
    .respond(
      toolCalls(
        due.map((customer) => ({
          name: 'text_customer',
          args: {
            customer: customer.id,
            body: `Hi ${customer.name.split(' ')[0]}, your $5 invoice is paid. Thank you!`,
          },
        })),
      ),
    )
    .respond((messages) => {
      const sent = toolResults(messages, 'text_customer').filter((result) => result.status !== 'error').length;
      return new AIMessage(`Texted ${sent} customers their receipt.`);
    });

  const supervisor = fakeModel()
    .respond(
      toolCalls(
        [{ name: 'transfer_to_billing', args: {} }],
        `Billing: charge the customers with an invoice due $5 each (${due.map((customer) => customer.id).join(', ')}).`,
      ),
    )
    .respond((messages) => {
      const denial = parseKeybrakeDenials(messages).at(-1)?.toJSON();
      const reaction = denial
        ? `Billing was stopped by ${String(denial.code)} on ${String(denial.label)} (cap $${String(denial.capUsd)}). Not retrying; flagging the extra charges for a human to refund.`
        : 'Billing is done.';
      return toolCalls(
        [{ name: 'transfer_to_notifications', args: {} }],
        `${reaction} Notifications: text the 4 due customers.`,
      );
    })
    .respond(new AIMessage('Done: billing stopped at its cap and was escalated; the 4 due customers were texted.'));

  return { supervisor, billing, notifications };
}
