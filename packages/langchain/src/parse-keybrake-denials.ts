import { type KeybrakeError, keybrakeErrorFromJSON } from '@keybrake/core';
import type { BaseMessage } from '@langchain/core/messages';

const JSON_LINE = /^\{"code":"KEYBRAKE_[A-Z_]+".*\}$/gm;

/**
 * Reads the Keybrake denials out of a transcript: every structured denial line (the JSON line of
 * {@link formatDenialForModel}) in the messages' text — a member's error `ToolMessage`s, the
 * report {@link keybrakeMiddleware} adds to a member's final message, or a supervisor's
 * messages that carry either. Use it in code that routes on a member's outcome.
 *
 * @param messages - Any LangChain messages, e.g. `result.messages` of an agent run.
 * @returns The typed errors, in transcript order (one per occurrence); empty if there are none.
 * @example
 * ```ts
 * const result = await supervisor.invoke({ messages: [{ role: 'user', content: 'Bill the customers' }] });
 * const [denial] = parseKeybrakeDenials(result.messages);
 * if (denial?.code === 'KEYBRAKE_CAP_EXCEEDED') console.log(denial.toJSON().label);
 * ```
 */
export function parseKeybrakeDenials(messages: readonly BaseMessage[]): KeybrakeError[] {
  return messages.flatMap((message) => parseDenialLines(message.text));
}

/** One text's structured denial lines, as written. @internal */
export function denialLinesOf(text: string): string[] {
  return text.match(JSON_LINE) ?? [];
}

/** The denials in one text's structured denial lines, in order. @internal */
export function parseDenialLines(text: string): KeybrakeError[] {
  const denials: KeybrakeError[] = [];
  for (const line of denialLinesOf(text)) {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      continue;
    }
    const denial = keybrakeErrorFromJSON(json);
    if (denial) denials.push(denial);
  }
  return denials;
}
