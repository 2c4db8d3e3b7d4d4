// A scripted language model for driving Mastra's real agent loop in tests: each model call
// (`generate` → doGenerate, `stream` → doStream) answers the next step, and every prompt the
// model received is kept so a test can assert what the model read.
import type { MastraModelConfig } from '@mastra/core/llm';
import { MockLanguageModelV4 } from 'ai/test';

type StreamResult = Awaited<ReturnType<MockLanguageModelV4['doStream']>>;
type GenerateResult = Awaited<ReturnType<MockLanguageModelV4['doGenerate']>>;
type StreamPart = StreamResult['stream'] extends ReadableStream<infer Part> ? Part : never;
/** The options of one model call: its `prompt`, the `tools` offered, … */
export type ModelCall = MockLanguageModelV4['doStreamCalls'][number];
/** The prompt of one model call. */
export type ModelPrompt = ModelCall['prompt'];

/** One tool call the scripted model makes. */
export interface ScriptedToolCall {
  toolName: string;
  input: unknown;
  toolCallId?: string;
}

/** What the model answers on one call: tool calls (run in parallel by Mastra) or final text. */
export type ScriptStep = { toolCalls: ScriptedToolCall[] } | { text: string };

/** A scripted model and the prompts it received, in call order. */
export interface ScriptedModel {
  model: MastraModelConfig;
  prompts: ModelPrompt[];
}

const usage = {
  inputTokens: { total: 10, noCache: 10, cacheRead: 0, cacheWrite: 0 },
  outputTokens: { total: 5, text: 5, reasoning: 0 },
};

let nextId = 0;

function toParts(step: ScriptStep): StreamPart[] {
  if ('text' in step) {
    return [
      { type: 'text-start', id: 'text' },
      { type: 'text-delta', id: 'text', delta: step.text },
      { type: 'text-end', id: 'text' },
    ];
  }
  return step.toolCalls.map((call) => ({
    type: 'tool-call',
    toolCallId: call.toolCallId ?? `call_${++nextId}`,
    toolName: call.toolName,
    input: JSON.stringify(call.input),
  }));
}

/**
 * A model that answers each call with the next step of `script` (a list, or a function of the
 * call and its index). Past the end of a list it answers `'done'`.
 */
export function scriptModel(script: ScriptStep[] | ((call: ModelCall, index: number) => ScriptStep)): ScriptedModel {
  const prompts: ModelPrompt[] = [];
  const next = (call: ModelCall): ScriptStep => {
    const index = prompts.push(call.prompt) - 1;
    return typeof script === 'function' ? script(call, index) : (script[index] ?? { text: 'done' });
  };
  const finishReason = (step: ScriptStep) =>
    ({ unified: 'text' in step ? 'stop' : 'tool-calls', raw: undefined }) as const;
  const model = new MockLanguageModelV4({
    doGenerate: async (options): Promise<GenerateResult> => {
      const step = next(options);
      const content: GenerateResult['content'] = [];
      for (const part of toParts(step)) {
        if (part.type === 'tool-call') content.push(part);
        if (part.type === 'text-delta') content.push({ type: 'text', text: part.delta });
      }
      return { content, finishReason: finishReason(step), usage, warnings: [] };
    },
    doStream: async (options): Promise<StreamResult> => {
      const step = next(options);
      const parts: StreamPart[] = [
        { type: 'stream-start', warnings: [] },
        ...toParts(step),
        { type: 'finish', finishReason: finishReason(step), usage },
      ];
      return {
        stream: new ReadableStream({
          start(controller) {
            for (const part of parts) controller.enqueue(part);
            controller.close();
          },
        }),
      };
    },
  });
  // Mastra bundles its own copy of the provider v4 types, which lags `ai`'s by a few fields: the
  // mock implements the same interface at runtime, so it is cast across the two copies.
  return { model: model as unknown as MastraModelConfig, prompts };
}

/** The tool results (and tool errors) in a prompt, by tool call id: what the model read. */
export function toolOutputs(prompt: ModelPrompt | undefined): { toolName: string; type: string; value: unknown }[] {
  return (prompt ?? []).flatMap((message) =>
    message.role === 'tool'
      ? message.content.flatMap((part) =>
          part.type === 'tool-result'
            ? [
                {
                  toolName: part.toolName,
                  type: part.output.type,
                  value: 'value' in part.output ? part.output.value : undefined,
                },
              ]
            : [],
        )
      : [],
  );
}
