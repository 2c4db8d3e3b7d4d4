import { AIMessage, type BaseMessage, ToolMessage } from '@langchain/core/messages';

type Log = (line: string) => void;

const isMessage = (value: unknown): value is BaseMessage =>
  AIMessage.isInstance(value) || ToolMessage.isInstance(value);

/** `amountUsd=5; customer: cus_a, cus_b, …` — shared arguments once, varying ones listed. */
function describeArgs(calls: readonly { args: Record<string, unknown> }[]): string {
  const keys = [...new Set(calls.flatMap((call) => Object.keys(call.args)))];
  return keys
    .map((key) => {
      const values = [...new Set(calls.map((call) => JSON.stringify(call.args[key])))];
      return values.length === 1
        ? `${key}=${values[0]}`
        : `${key}: ${values.slice(0, 3).join(', ')}${values.length > 3 ? `, … (${values.length})` : ''}`;
    })
    .join('; ');
}

const firstLine = (text: string) => text.split('\n')[0] ?? '';

/**
 * Prints the stream of a supervisor graph (`streamMode: 'updates', subgraphs: true`) as a readable
 * transcript: who called which tool with what, what came back (tool errors in full on their first
 * line), what each agent said, and the Keybrake report a member hands back.
 *
 * @param log - Where lines go.
 * @returns A function to feed each `[namespace, update]` of the stream, and `flush()` for the end.
 * @example
 * ```ts
 * const printer = createTranscriptPrinter(console.log);
 * for await (const [namespace, update] of await graph.stream(input, { streamMode: 'updates', subgraphs: true })) printer.print(namespace, update);
 * printer.flush();
 * ```
 */
export function createTranscriptPrinter(log: Log) {
  const pending = new Map<string, ToolMessage[]>();
  const indent = (agent: string) => (agent === 'supervisor' ? '' : '    ');
  const flush = (agent?: string) => {
    for (const [name, results] of pending) {
      if (agent !== undefined && name !== agent) continue;
      pending.delete(name);
      const ok = results.filter((result) => result.status !== 'error');
      if (ok.length > 0)
        log(
          `${indent(name)}  ${name} ← ✓ ${ok.length} ok: ${firstLine(ok[0]?.text ?? '')}${ok.length > 1 ? ` (+${ok.length - 1} more)` : ''}`,
        );
      const errors = new Map<string, number>();
      for (const result of results.filter((each) => each.status === 'error')) {
        const line = firstLine(result.text);
        errors.set(line, (errors.get(line) ?? 0) + 1);
      }
      for (const [line, count] of errors)
        log(`${indent(name)}  ${name} ← ✗ ${count} tool error${count > 1 ? 's' : ''}: ${line}`);
    }
  };
  const print = (namespace: readonly string[], chunk: unknown) => {
    if (namespace.length === 0) return; // the parent graph repeats what its subgraphs streamed
    const agent = namespace[0]?.split(':')[0] ?? '?';
    for (const [node, update] of Object.entries(chunk as Record<string, { messages?: unknown } | undefined>)) {
      const messages = Array.isArray(update?.messages) ? update.messages.filter(isMessage) : [];
      for (const message of messages) {
        if (ToolMessage.isInstance(message)) {
          pending.set(agent, [...(pending.get(agent) ?? []), message]);
          continue;
        }
        flush(agent);
        if (!AIMessage.isInstance(message)) continue;
        if (node.endsWith('after_agent')) {
          log(`${indent(agent)}■ ${agent} hands back its final message with Keybrake's report:`);
          const report = message.text.slice(Math.max(0, message.text.search(/Keybrake denied \d+ calls? of member/)));
          for (const line of report.split('\n')) log(`${indent(agent)}    ${line}`);
          continue;
        }
        if (message.text) log(`${indent(agent)}${agent}: ${message.text}`);
        const byTool = new Map<string, { args: Record<string, unknown> }[]>();
        for (const call of message.tool_calls ?? []) byTool.set(call.name, [...(byTool.get(call.name) ?? []), call]);
        for (const [tool, calls] of byTool)
          log(
            `${indent(agent)}  ${agent} → ${tool}${calls.length > 1 ? ` ×${calls.length}` : ''}(${describeArgs(calls)})`,
          );
      }
    }
  };
  return { print, flush: () => flush() };
}
