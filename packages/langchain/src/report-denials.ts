import { formatDenialForModel, type KeybrakeError } from '@keybrake/core';
import { AIMessage, type BaseMessage, ToolMessage } from '@langchain/core/messages';
import { budgetLine, type MemberRef, memberName } from './member-name.js';
import { denialLinesOf, parseDenialLines, parseKeybrakeDenials } from './parse-keybrake-denials.js';

/** Where a member's report starts in the text it answered with. */
const REPORT_START = /^Keybrake denied \d+ calls? of member "/m;

/**
 * The Keybrake denials a tool's answer carries, for the report: a sub-member's report (a member
 * run as a tool answers with its final message) from its first line to the end — with whatever
 * that member carried from further down — or else the denials found in the answer. A report is
 * one only if it holds a structured denial line: a ticket or an email quoting the first line of
 * an old one is not.
 */
function carriedReport(message: ToolMessage): string | undefined {
  const text = message.text;
  const start = text.search(REPORT_START);
  if (start !== -1 && parseDenialLines(text.slice(start)).length > 0) return text.slice(start);
  const denials = parseKeybrakeDenials([message]);
  if (denials.length === 0) return undefined;
  return [
    `Keybrake denials in the answer of tool "${message.name ?? ''}":`,
    ...latestByCode(denials).map(formatDenialForModel),
  ].join('\n');
}

interface RunDenials {
  /** The denials of the run's own tool calls. */
  denials: KeybrakeError[];
  /** The reports its tools' answers carried (members it ran as tools). */
  carried: string[];
  speaker: string | undefined;
}

/**
 * The denials of the agent's own run: the error tool messages from the end of the transcript back
 * to the first message the agent did not write (the user's message, or a supervisor's handoff),
 * and the reports carried in its other tool messages.
 */
function runDenials(messages: readonly BaseMessage[]): RunDenials {
  let speaker: string | undefined;
  const denials: KeybrakeError[] = [];
  const carried: string[] = [];
  for (let index = messages.length - 1; index >= 0; index--) {
    const message = messages[index];
    if (ToolMessage.isInstance(message)) {
      if (message.status === 'error') denials.unshift(...parseKeybrakeDenials([message]));
      else {
        const report = carriedReport(message);
        if (report !== undefined) carried.unshift(report);
      }
      continue;
    }
    if (!AIMessage.isInstance(message)) break;
    speaker ??= message.name;
    if (message.name !== speaker) break;
  }
  return { denials, carried, speaker };
}

/** Whether `said` holds every structured denial line of `part` (and `part` has some). */
function quotesEveryDenial(said: string, part: string): boolean {
  const lines = denialLinesOf(part);
  return lines.length > 0 && lines.every((line) => said.includes(line));
}

/** The latest denial of each code. */
function latestByCode(denials: readonly KeybrakeError[]): KeybrakeError[] {
  const latest = new Map<string, KeybrakeError>();
  for (const denial of denials) latest.set(denial.code, denial);
  return [...latest.values()];
}

/** One line per code: how many calls it denied, then the latest denial's text for the model. */
function reportText(member: string, denials: readonly KeybrakeError[], budget: string | undefined): string {
  const calls = denials.length === 1 ? '1 call' : `${denials.length} calls`;
  return [
    `Keybrake denied ${calls} of member "${member}":`,
    ...latestByCode(denials).map(formatDenialForModel),
    ...(budget === undefined ? [] : [budget]),
  ].join('\n');
}

/**
 * The state update that appends a report of this run's Keybrake denials to the member's final
 * message (replacing it by id; the answer of a `returnDirect` tool that ended the run, too), followed by the reports of the members it ran as tools (so a
 * stop is carried up however deep the team), or `undefined` when there were none or the final
 * message already carries them. Under its own id, the report is in the state (`values`,
 * `updates`) but not in `streamMode: 'messages'`, which sends each id once: there, the denials
 * are the error tool messages.
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
  const { denials, carried, speaker } = runDenials(messages);
  const last = messages.at(-1);
  // A `returnDirect` tool's answer ends the run: it stays the final message, and takes the report.
  const endsOnTool = ToolMessage.isInstance(last) && last.status !== 'error' && last.id !== undefined;
  // What that answer carries itself is already in it.
  if (endsOnTool && carriedReport(last) !== undefined) carried.pop();
  if (denials.length + carried.length === 0) return undefined;
  const name = memberName(member);
  const own = denials.length === 0 ? [] : [reportText(name, denials, await budgetLine(member))];
  // A part the model's final message already quotes (each of its denial lines) is not repeated;
  // the others are added, so quoting one member's denial does not drop another's.
  const said = AIMessage.isInstance(last) ? last.text : '';
  const parts = [...own, ...carried].filter((part) => !quotesEveryDenial(said, part));
  if (parts.length === 0) return undefined;
  const report = parts.join('\n');
  if (endsOnTool) {
    return {
      messages: [
        new ToolMessage({
          id: last.id,
          name: last.name,
          tool_call_id: last.tool_call_id,
          content: withReport(last.content, report),
          artifact: last.artifact,
          status: last.status,
          ...(last.metadata === undefined ? {} : { metadata: last.metadata }),
          additional_kwargs: last.additional_kwargs,
          response_metadata: last.response_metadata,
        }),
      ],
    };
  }
  if (!AIMessage.isInstance(last) || last.id === undefined) {
    return { messages: [new AIMessage({ content: report, name: speaker ?? name })] };
  }
  return {
    messages: [
      new AIMessage({
        id: last.id,
        name: last.name,
        content: withReport(last.content, report),
        tool_calls: last.tool_calls,
        additional_kwargs: last.additional_kwargs,
        response_metadata: last.response_metadata,
        ...(last.usage_metadata === undefined ? {} : { usage_metadata: last.usage_metadata }),
      }),
    ],
  };
}

/** A final message's content with the report after it. */
function withReport<C extends BaseMessage['content']>(content: C, report: string): C {
  return (
    typeof content === 'string'
      ? [content, report].filter((part) => part !== '').join('\n\n')
      : [...content, { type: 'text' as const, text: `\n\n${report}` }]
  ) as C;
}
