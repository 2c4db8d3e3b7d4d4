import { formatDenialForModel } from '@keybrake/core';
import type { RequestContext } from '@mastra/core/request-context';
import { type DenialLog, openDenialLog, readDenialLog } from './denial-log.js';

/** The most denials listed in the routing agent's instructions (the newest). */
const MAX_LISTED = 10;

type InstructionsFn = (args: { requestContext: RequestContext; mastra?: unknown }) => string | Promise<string>;

/**
 * Instructions for an agent network's agent (`new Agent({ instructions: keybrakeNetworkInstructions('…'), agents })`)
 * that tell its routing agent of every Keybrake denial in the run. Mastra's network runs its members
 * with the network's request context and shows the routing agent only a member's final text; these
 * instructions open a denial log in that request context at the first routing step, the members'
 * tools (wrapped with `withKeybrake` or under `keybrakeHooks`) and the network's own capped tools
 * record their denials in it, and each later routing step and completion check reads them in its
 * system instructions. Give each `network()` run its own request context (the default).
 *
 * @param instructions - The network's own instructions (a string or a function of the request context).
 * @returns Dynamic instructions for the network's `Agent`.
 * @example
 * ```ts
 * const network = new Agent({
 *   id: 'operations',
 *   name: 'operations',
 *   instructions: keybrakeNetworkInstructions('Route billing work to the billing agent.'),
 *   model,
 *   agents: { billing },
 *   memory,
 * });
 * await network.network('Charge the overdue customers.');
 * ```
 */
export function keybrakeNetworkInstructions(instructions: string | InstructionsFn): InstructionsFn {
  return async (args) => {
    const base = typeof instructions === 'function' ? await instructions(args) : instructions;
    const log: DenialLog = readDenialLog(args.requestContext) ?? openDenialLog(args.requestContext);
    if (log.denials.length === 0) return base;
    const listed = log.denials
      .slice(-MAX_LISTED)
      .map(
        (denial) =>
          `- Keybrake denied a call of member ${JSON.stringify(denial.member)} (tool ${JSON.stringify(denial.tool)}); the call was not sent:\n  ${formatDenialForModel(denial.error).replaceAll('\n', '\n  ')}`,
      );
    const more =
      log.denials.length > MAX_LISTED ? `\n(${log.denials.length - MAX_LISTED} earlier denials not listed.)` : '';
    return `${base}\n\n## Keybrake denials in this run\nThese calls were refused by their spending limits; retrying them will not help.\n${listed.join('\n')}${more}`;
  };
}
