import { formatDenialForModel, type KeybrakeError } from '@keybrake/core';
import { AIMessage, type BaseMessage, ToolMessage } from '@langchain/core/messages';
import { budgetLine, type MemberRef, memberName } from './member-name.js';
import { parseKeybrakeDenials } from './parse-keybrake-denials.js';

/**
 * The denials of the agent's own run: the error tool messages from the end of the transcript back
 * to the first message the agent did not write (the user's message, or a supervisor's handoff).
 */
function runDenials(messages: readonly BaseMessage[]): { denials: KeybrakeError[]; speaker: string | undefined } {
  let speaker: string | undefined;
  const denials: KeybrakeError[] = [];
  for (let index = messages.length - 1; index >= 0; index--) {
    const message = messages[index];
    if (ToolMessage.isInstance(message)) {
      if (message.status === 'error') denials.unshift(...parseKeybrakeDenials([message]));
      continue;
    }
    if (!AIMessage.isInstance(message)) break;
    speaker ??= message.name;
    if (message.name !== speaker) break;
  }
  return { denials, speaker };
}

/** One line per code: how many calls it denied, then the latest denial's text for the model. */
function reportText(member: string, denials: readonly KeybrakeError[], budget: string | undefined): string {
  const latest = new Map<string, KeybrakeError>();
  for (const denial of denials) latest.set(denial.code, denial);
  const calls = denials.length === 1 ? '1 call' : `${denials.length} calls`;
  return [
    `Keybrake denied ${calls} of member "${member}":`,
    ...[...latest.values()].map(formatDenialForModel),
    ...(budget === undefined ? [] : [budget]),
  ].join('\n');
}

/**
 * The state update that appends a report of this run's Keybrake denials to the member's final
 * message (replacing it by id), or `undefined` when there were none or the final message already
 * carries them. Under its own id, the report is in the state (`values`, `updates`) but not in
 * `streamMode: 'messages'`, which sends each id once: there, the denials are the error tool
 * messages.
 *
 * @example
 * ```ts
 * afterAgent: (state) => reportDenials(team.member('billing'), state.messages),
 * ```
 */
export async function reportDenials(
  member: MemberRef,
  messages: readonly BaseMessage[],
): Promise<{ messages: BaseMessage[] } | undefined> {
  const { denials, speaker } = runDenials(messages);
  const last = messages.at(-1);
  if (denials.length === 0 || (AIMessage.isInstance(last) && parseKeybrakeDenials([last]).length > 0)) return undefined;
  const name = memberName(member);
  const report = reportText(name, denials, await budgetLine(member));
  if (!AIMessage.isInstance(last) || last.id === undefined) {
    return { messages: [new AIMessage({ content: report, name: speaker ?? name })] };
  }
  const content =
    typeof last.content === 'string'
      ? [last.content, report].filter((part) => part !== '').join('\n\n')
      : [...last.content, { type: 'text' as const, text: `\n\n${report}` }];
  return {
    messages: [
      new AIMessage({
        id: last.id,
        name: last.name,
        content,
        tool_calls: last.tool_calls,
        additional_kwargs: last.additional_kwargs,
        response_metadata: last.response_metadata,
        ...(last.usage_metadata === undefined ? {} : { usage_metadata: last.usage_metadata }),
      }),
    ],
  };
}
