import { formatDenialForModel, type KeybrakeError } from '@keybrake/core';
import { ToolMessage } from '@langchain/core/messages';

/** Options of {@link toDenialToolMessage}. */
export interface DenialToolMessageOptions {
  /** The id of the tool call the denial answers. */
  toolCallId: string;
  /** The name of the tool that was called. @default undefined */
  toolName?: string | undefined;
}

/**
 * Turns a Keybrake denial into LangChain's native tool error: a `ToolMessage` with
 * `status: 'error'` whose content is {@link formatDenialForModel}'s text — the code, which budget,
 * cap, spent and attempted amounts, that retrying will not help, and the structured fields as a
 * JSON line. Unlike LangChain's default tool error it is not followed by "Please fix your mistakes".
 *
 * @param denial - The typed Keybrake error.
 * @param options - The tool call it answers.
 * @returns The error `ToolMessage` to put in the agent's messages.
 * @example
 * ```ts
 * const message = toDenialToolMessage(denial, { toolCallId: 'call_7', toolName: 'charge_customer' });
 * message.status; // 'error'
 * ```
 */
export function toDenialToolMessage(
  denial: KeybrakeError,
  { toolCallId, toolName }: DenialToolMessageOptions,
): ToolMessage {
  return new ToolMessage({
    content: formatDenialForModel(denial),
    tool_call_id: toolCallId,
    status: 'error',
    ...(toolName === undefined ? {} : { name: toolName }),
  });
}
