// Offline models: the AI SDK's MockLanguageModelV4, scripted to read each prompt — the task, tool
// results and tool errors — and act on it like a (confused) model would.
import type { MastraModelConfig } from '@mastra/core/llm';
import { MockLanguageModelV4 } from 'ai/test';

type Call = MockLanguageModelV4['doStreamCalls'][number];
type StreamResult = Awaited<ReturnType<MockLanguageModelV4['doStream']>>;
type GenerateResult = Awaited<ReturnType<MockLanguageModelV4['doGenerate']>>;
type StreamPart = StreamResult['stream'] extends ReadableStream<infer Part> ? Part : never;

/** What a scripted model does next: call tools (in parallel) or answer with text. */
type Step = { toolCalls: { toolName: string; input: unknown }[] } | { text: string };

/** A tool result or tool error as the model read it. */
interface ToolOutput {
  toolName: string;
  error: boolean;
  value: unknown;
}

const usage = {
  inputTokens: { total: 100, noCache: 100, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 20, text: 20, reasoning: 0 },
};
let callIds = 0;

function scripted(decide: (call: Call) => Step): MastraModelConfig {
  const parts = (step: Step): StreamPart[] =>
    'text' in step
      ? [
          { type: 'text-start', id: 'text' },
          { type: 'text-delta', id: 'text', delta: step.text },
          { type: 'text-end', id: 'text' },
        ]
      : step.toolCalls.map((call) => ({
          type: 'tool-call',
          toolCallId: `call_${++callIds}`,
          toolName: call.toolName,
          input: JSON.stringify(call.input),
        }));
  const finishReason = (step: Step) => ({ unified: 'text' in step ? 'stop' : 'tool-calls', raw: undefined }) as const;
  const model = new MockLanguageModelV4({
    doGenerate: async (call): Promise<GenerateResult> => {
      const step = decide(call);
      const content: GenerateResult['content'] = [];
      for (const part of parts(step)) {
        if (part.type === 'tool-call') content.push(part);
        if (part.type === 'text-delta') content.push({ type: 'text', text: part.delta });
      }
      return { content, finishReason: finishReason(step), usage, warnings: [] };
    },
    doStream: async (call): Promise<StreamResult> => {
      const step = decide(call);
      const all: StreamPart[] = [
        { type: 'stream-start', warnings: [] },
        ...parts(step),
        { type: 'finish', finishReason: finishReason(step), usage },
      ];
      return {
        stream: new ReadableStream({
          start(controller) {
            for (const part of all) controller.enqueue(part);
            controller.close();
          },
        }),
      };
    },
  });
  // Mastra bundles its own copy of the provider v4 types, which lags `ai`'s by a few fields; the
  // mock implements the same interface at runtime, so it is cast across the two copies.
  return model as unknown as MastraModelConfig;
}

function toolOutputs(call: Call): ToolOutput[] {
  return call.prompt.flatMap((message) =>
    message.role === 'tool'
      ? message.content.flatMap((part) =>
          part.type === 'tool-result'
            ? [
                {
                  toolName: part.toolName,
                  error: part.output.type === 'error-text' || part.output.type === 'error-json',
                  value: 'value' in part.output ? part.output.value : undefined,
                },
              ]
            : [],
        )
      : [],
  );
}

/** The text of the last user message: the task the member was delegated. */
function task(call: Call): string {
  const user = call.prompt.filter((message) => message.role === 'user').at(-1);
  return (user?.content ?? []).map((part) => (part.type === 'text' ? part.text : '')).join('');
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null;
const field = (value: unknown, name: string): unknown => (isObject(value) ? value[name] : undefined);

/**
 * The billing member, confused: asked to charge the overdue customers, it charges every customer
 * in the CRM, 10 at a time, until a tool error from Keybrake tells it to stop.
 */
function billing(call: Call): Step {
  const outputs = toolOutputs(call);
  const listed = outputs.find((output) => output.toolName === 'listCustomers' && !output.error);
  const list = field(listed?.value, 'customers');
  if (!Array.isArray(list)) return { toolCalls: [{ toolName: 'listCustomers', input: {} }] };
  const charges = outputs.filter((output) => output.toolName === 'chargeCustomer');
  const paid = charges.filter((output) => !output.error).map((output) => output.value);
  const denial = charges.find((output) => output.error && String(output.value).includes('KEYBRAKE_'));
  const overdue = list.filter((customer) => field(customer, 'overdue') === true);
  const report = overdue
    .map((customer) => {
      const intent = paid.find((charge) => field(charge, 'customer') === field(customer, 'id'));
      return `${String(field(customer, 'id'))} ${String(field(customer, 'phone'))} ${String(field(intent, 'paymentIntent') ?? 'not charged')}`;
    })
    .join('\n');
  if (denial) {
    const code = String(denial.value).split(':')[0];
    return {
      text: `I charged ${paid.length} customers $5.00, then the tool refused with ${code}, so I stopped. Overdue customers (id, phone, payment):\n${report}`,
    };
  }
  const next = list.slice(charges.length, charges.length + 10);
  if (next.length === 0) return { text: `I charged all ${paid.length} customers $5.00.\n${report}` };
  return {
    toolCalls: next.map((customer) => ({
      toolName: 'chargeCustomer',
      input: { customer: String(field(customer, 'id')), amountCents: 500 },
    })),
  };
}

/** The notification member: checks each payment it was given, then texts a receipt for each paid one. */
function notifications(call: Call): Step {
  const wanted = [...task(call).matchAll(/(cus_\w+) (\+\d+) (pi_\w+)/g)].map(([, customer, phone, intent]) => ({
    customer,
    phone,
    intent,
  }));
  const outputs = toolOutputs(call);
  const checks = outputs.filter((output) => output.toolName === 'checkPayment');
  if (checks.length === 0)
    return { toolCalls: wanted.map(({ intent }) => ({ toolName: 'checkPayment', input: { paymentIntent: intent } })) };
  const texts = outputs.filter((output) => output.toolName === 'sendSms');
  if (texts.length === 0) {
    const succeeded = new Set(
      checks
        .filter((check) => field(check.value, 'status') === 'succeeded')
        .map((check) => field(check.value, 'paymentIntent')),
    );
    return {
      toolCalls: wanted
        .filter(({ intent }) => succeeded.has(intent))
        .map(({ phone }) => ({
          toolName: 'sendSms',
          input: { to: phone, body: 'Acme: your overdue invoice is paid ($5.00). Thank you!' },
        })),
    };
  }
  return { text: `Texted ${texts.filter((output) => !output.error).length} receipts.` };
}

/**
 * The supervisor: delegates billing, reads what came back, then delegates the receipts for the
 * overdue customers that were charged. When billing came back stopped by Keybrake, it does not
 * retry: it reports the code, the member's budget and what needs a human.
 */
function supervisor(call: Call): Step {
  const outputs = toolOutputs(call);
  const billed = outputs.find((output) => output.toolName === 'agent-billing');
  if (!billed) {
    return {
      toolCalls: [
        {
          toolName: 'agent-billing',
          input: {
            prompt:
              'Charge each overdue customer $5.00 (listCustomers shows who is overdue). Reply with the id, phone and payment of each overdue customer.',
          },
        },
      ],
    };
  }
  const report = String(billed.value);
  const payments = [...report.matchAll(/(cus_\w+) (\+\d+) (pi_\w+)/g)].map(([line]) => line);
  const texted = outputs.find((output) => output.toolName === 'agent-notifications');
  if (!texted && payments.length > 0) {
    return {
      toolCalls: [
        {
          toolName: 'agent-notifications',
          input: {
            prompt: `Text a receipt to each of these customers once their payment succeeded:\n${payments.join('\n')}`,
          },
        },
      ],
    };
  }
  const last = report.split('\n').at(-1) ?? '';
  const denial = report.includes('KEYBRAKE_') ? (JSON.parse(last) as Record<string, unknown>) : undefined;
  const charged = Number(/I charged (\d+)/.exec(report)?.[1] ?? payments.length);
  const stopped = denial
    ? `Billing was stopped by Keybrake (${String(denial.code)}, ${String(denial.label)}: spent $${String(denial.spentUsd)} of its $${String(denial.capUsd)} budget); I am not retrying it. `
    : '';
  const extra = charged - payments.length;
  return {
    text: `${stopped}The ${payments.length} overdue customers were charged; notifications reports: ${String(texted?.value ?? 'nothing')}${extra > 0 ? ` ${extra} other customers were charged by mistake: escalating to a human for refunds.` : ''}`,
  };
}

/** Scripted models for the three agents of the demo. */
export function createScriptedModels(): Record<'supervisor' | 'billing' | 'notifications', MastraModelConfig> {
  return { supervisor: scripted(supervisor), billing: scripted(billing), notifications: scripted(notifications) };
}
