import { AIMessage } from '@langchain/core/messages';

let counter = 0;

/**
 * A scripted model turn that calls tools. Unlike `fakeModel().respondWithTools()`, whose messages
 * are all given the id of the call index (so two fake models in one graph overwrite each other's
 * messages), it leaves the message id to the graph and gives each tool call a unique id.
 */
export function callTools(calls: readonly { name: string; args: Record<string, unknown> }[]): AIMessage {
  return new AIMessage({
    content: '',
    tool_calls: calls.map(({ name, args }) => ({ name, args, id: `call_${++counter}`, type: 'tool_call' as const })),
  });
}

/** `count` identical calls of one tool. */
export const repeatCall = (count: number, name: string, args: Record<string, unknown>): AIMessage =>
  callTools(Array.from({ length: count }, () => ({ name, args })));
