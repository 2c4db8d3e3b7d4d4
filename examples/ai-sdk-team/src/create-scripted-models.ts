import { MockLanguageModelV4 } from 'ai/test';

type ModelCall = Parameters<MockLanguageModelV4['doGenerate']>[0];
type ToolCall = { toolName: string; input: unknown };
type Turn = { toolCalls: ToolCall[] } | { text: string };
interface ReadResult {
  toolName: string;
  /** `json` / `text` for results, `error-text` for tool errors. */
  type: string;
  value: unknown;
}

/** Every tool result in the prompt, oldest first, or only those of the last tool message. */
function toolResults(call: ModelCall, which: 'all' | 'last' = 'all'): ReadResult[] {
  const messages = call.prompt.filter((message) => message.role === 'tool');
  const read = which === 'all' ? messages : messages.slice(-1);
  return read.flatMap((message) =>
    message.role !== 'tool'
      ? []
      : message.content.flatMap((part) =>
          part.type === 'tool-result'
            ? [
                {
                  toolName: part.toolName,
                  type: part.output.type,
                  value: 'value' in part.output ? part.output.value : '',
                },
              ]
            : [],
        ),
  );
}

/** The text of the prompt's first user message: the task. */
function taskOf(call: ModelCall): string {
  const user = call.prompt.find((message) => message.role === 'user');
  if (user?.role !== 'user') return '';
  return user.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
}

const isKeybrakeDenial = (result: ReadResult) =>
  result.type === 'error-text' && String(result.value).startsWith('KEYBRAKE_');

/** A scripted model (the AI SDK's own `MockLanguageModelV4`) that decides each turn from its prompt only. */
function scripted(name: string, decide: (call: ModelCall) => Turn): MockLanguageModelV4 {
  let ids = 0;
  return new MockLanguageModelV4({
    provider: 'scripted',
    modelId: name,
    doGenerate: async (call) => {
      const turn = decide(call);
      const content =
        'text' in turn
          ? [{ type: 'text' as const, text: turn.text }]
          : turn.toolCalls.map((toolCall) => ({
              type: 'tool-call' as const,
              toolCallId: `${name}_call_${++ids}`,
              toolName: toolCall.toolName,
              input: JSON.stringify(toolCall.input),
            }));
      return {
        content,
        finishReason: { unified: 'text' in turn ? 'stop' : 'tool-calls', raw: undefined },
        usage: {
          inputTokens: { total: undefined, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
          outputTokens: { total: undefined, text: undefined, reasoning: undefined },
        },
        warnings: [],
      };
    },
  });
}

interface Customer {
  id: string;
  phone: string;
  overdue: boolean;
}
interface Charge {
  customer: string;
  paymentIntent: string;
}

/**
 * The confused billing member: asked to charge the 4 overdue customers, it charges every customer
 * in the CRM, 10 at a time (parallel tool calls), until it reads a Keybrake denial, then reports.
 */
function billingModel(): MockLanguageModelV4 {
  return scripted('billing', (call) => {
    const all = toolResults(call);
    const customers = (all.find((result) => result.toolName === 'list_customers')?.value ?? []) as Customer[];
    if (all.length === 0) return { toolCalls: [{ toolName: 'list_customers', input: {} }] };
    const denials = toolResults(call, 'last').filter(isKeybrakeDenial);
    const denial = denials[0];
    const attempted = all.filter((result) => result.toolName === 'charge').length;
    const next = customers.slice(attempted, attempted + 10);
    if (!denial && next.length > 0) {
      return {
        toolCalls: next.map((customer) => ({ toolName: 'charge', input: { customer: customer.id, amountUsd: 5 } })),
      };
    }
    const charges = all.flatMap((result) =>
      result.toolName === 'charge' && result.type === 'json' ? [result.value as Charge] : [],
    );
    const overdue = customers
      .filter((customer) => customer.overdue)
      .flatMap((customer) => {
        const charge = charges.find((candidate) => candidate.customer === customer.id);
        return charge ? [`${customer.id} (${customer.phone}, ${charge.paymentIntent})`] : [];
      });
    const code = String(denial?.value).split(':')[0];
    const stopped = denial
      ? ` Keybrake denied the next ${denials.length} with ${code} and says retrying will not help, so I stopped.`
      : '';
    return {
      text: `Charged ${charges.length} customers $5.00 each ($${(charges.length * 5).toFixed(2)}).${stopped} Overdue customers charged: ${overdue.join('; ')}.`,
    };
  });
}

/** The notification member: checks each payment named in its task, then texts a receipt for each one that succeeded. */
function notificationsModel(): MockLanguageModelV4 {
  return scripted('notifications', (call) => {
    const all = toolResults(call);
    const targets = [...taskOf(call).matchAll(/(cus_\w+) \((\+\d+), (pi_\w+)\)/g)].map(
      ([, customer, phone, intent]) => ({
        customer,
        phone,
        intent,
      }),
    );
    const denial = all.find(isKeybrakeDenial);
    if (denial) return { text: `Stopped by Keybrake: ${String(denial.value).split('\n')[0]}` };
    if (all.length === 0) {
      return {
        toolCalls: targets.map(({ intent }) => ({ toolName: 'check_payment', input: { paymentIntent: intent } })),
      };
    }
    if (!all.some((result) => result.toolName === 'send_sms')) {
      const paid = all.flatMap((result) =>
        result.type === 'json' && (result.value as { status?: string }).status === 'succeeded'
          ? [(result.value as { paymentIntent: string }).paymentIntent]
          : [],
      );
      return {
        toolCalls: targets
          .filter(({ intent }) => paid.includes(intent ?? ''))
          .map(({ phone, intent }) => ({
            toolName: 'send_sms',
            input: { to: phone, body: `Thanks! We received your $5.00 payment for your overdue invoice (${intent}).` },
          })),
      };
    }
    const sent = all.filter((result) => result.toolName === 'send_sms' && result.type === 'json').length;
    return { text: `Texted ${sent} receipts after checking each payment succeeded.` };
  });
}

/** The supervisor: delegates billing, forwards the charged overdue customers to notifications, reports. */
function supervisorModel(): MockLanguageModelV4 {
  return scripted('supervisor', (call) => {
    const all = toolResults(call);
    const billing = all.find((result) => result.toolName === 'delegate_billing');
    const notifications = all.find((result) => result.toolName === 'delegate_notifications');
    if (!billing) {
      return {
        toolCalls: [
          {
            toolName: 'delegate_billing',
            input: {
              task: 'Charge each overdue customer $5.00 (list_customers shows who is overdue). Report the phone number and PaymentIntent of each overdue customer you charged.',
            },
          },
        ],
      };
    }
    const report = String(billing.value);
    const overdue = report.match(/Overdue customers charged: (.*)\./)?.[1] ?? '';
    if (!notifications) {
      return {
        toolCalls: [
          {
            toolName: 'delegate_notifications',
            input: {
              task: `Text a receipt to each of these overdue customers once their payment succeeded: ${overdue}`,
            },
          },
        ],
      };
    }
    if (!isKeybrakeDenial(billing))
      return { text: `All done. Billing: ${report} Notifications: ${String(notifications.value)}` };
    const [, json = '{}'] = report.split('\n');
    const denial = JSON.parse(json) as { code: string; label: string; capUsd: number; spentUsd: number };
    const charged = Number(report.match(/Charged (\d+) customers/)?.[1] ?? 0);
    const overdueCount = overdue.split(';').filter(Boolean).length;
    return {
      text:
        `Billing was stopped by Keybrake: ${denial.code} on ${denial.label} (spent $${denial.spentUsd.toFixed(2)} of its $${denial.capUsd.toFixed(2)} cap). ` +
        `It charged ${charged} customers instead of the ${overdueCount} overdue ones; Keybrake says retrying will not help, so I did not retry. ` +
        `${String(notifications.value)} Escalating to a human: ${charged - overdueCount} customers were charged by mistake and need a refund.`,
    };
  });
}

/**
 * The offline team's models: the AI SDK's `MockLanguageModelV4`, scripted to read their prompts
 * (tool results and tool errors included) and act on them, with a billing member that misreads
 * its task and charges all 40 customers instead of the 4 overdue ones.
 *
 * @example
 * ```ts
 * const { supervisor, billing, notifications } = createScriptedModels();
 * ```
 */
export function createScriptedModels() {
  return { supervisor: supervisorModel(), billing: billingModel(), notifications: notificationsModel() };
}
