import { MockLanguageModelV4 } from 'ai/test';

/** What the model received on one call (its prompt and tools). */
export type ModelCall = Parameters<MockLanguageModelV4['doGenerate']>[0];

/** One answer of a scripted model: tool calls (run in parallel by the AI SDK), or a final text. */
export interface ScriptedTurn {
  toolCalls?: Array<{ toolName: string; input: unknown; toolCallId?: string }>;
  text?: string;
}

/** A tool result as the model reads it in its prompt. */
export interface PromptToolResult {
  toolCallId: string;
  toolName: string;
  output: { type: string; value?: unknown };
}

/**
 * The tool results of the last tool message in a prompt: what the model reads about its previous
 * step's tool calls.
 *
 * @example
 * ```ts
 * lastToolResults(model.doGenerateCalls[1]).map((result) => result.output.type); // ['json', 'error-text']
 * ```
 */
export function lastToolResults(call: ModelCall | undefined): PromptToolResult[] {
  const message = call?.prompt.findLast((entry) => entry.role === 'tool');
  if (message?.role !== 'tool') return [];
  return message.content.flatMap((part) =>
    part.type === 'tool-result' ? [{ toolCallId: part.toolCallId, toolName: part.toolName, output: part.output }] : [],
  );
}

const usage = {
  inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 10, text: 10, reasoning: undefined },
};

/**
 * A scripted language model (the AI SDK's `MockLanguageModelV4`): each call answers with the next
 * turn, or with what `script` decides from the prompt. Tool call ids default to `<modelId>-<n>`.
 *
 * @example
 * ```ts
 * const model = createScriptedModel('billing', [{ toolCalls: [{ toolName: 'charge', input: { amountUsd: 5 } }] }, { text: 'done' }]);
 * ```
 */
export function createScriptedModel(
  modelId: string,
  script: ScriptedTurn[] | ((call: ModelCall, turn: number) => ScriptedTurn),
): MockLanguageModelV4 {
  let calls = 0;
  let ids = 0;
  return new MockLanguageModelV4({
    modelId,
    doGenerate: async (call) => {
      const turn = typeof script === 'function' ? script(call, calls) : (script[calls] ?? { text: 'Done.' });
      calls += 1;
      const toolCalls = (turn.toolCalls ?? []).map((toolCall) => ({
        type: 'tool-call' as const,
        toolCallId: toolCall.toolCallId ?? `${modelId}-${++ids}`,
        toolName: toolCall.toolName,
        input: JSON.stringify(toolCall.input),
      }));
      return {
        content: [...(turn.text ? [{ type: 'text' as const, text: turn.text }] : []), ...toolCalls],
        finishReason: { unified: toolCalls.length > 0 ? 'tool-calls' : 'stop', raw: undefined },
        usage,
        warnings: [],
      };
    },
  });
}

/**
 * A model that answers as `scripted` for its first `turns` calls, then fails: its provider throws
 * "the model provider is overloaded", or (`hang`) it waits until its abort signal fires.
 */
export function failsAfter(scripted: MockLanguageModelV4, turns: number, hang = false): MockLanguageModelV4 {
  let calls = 0;
  return new MockLanguageModelV4({
    doGenerate: async (options) => {
      if (calls++ < turns) return scripted.doGenerate(options);
      if (!hang) throw new Error('the model provider is overloaded');
      return await new Promise<never>((_, reject) => {
        options.abortSignal?.addEventListener('abort', () => reject(options.abortSignal?.reason), { once: true });
      });
    },
  });
}
