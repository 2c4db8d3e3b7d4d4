import { AsyncLocalStorage } from 'node:async_hooks';
import type { AuditActor } from '../audit/audit-record.js';
import type { KeybrakeError } from '../errors/keybrake-error.js';

/** What the vault knows about the tool execution it is serving. */
interface ActorScope {
  actor: AuditActor;
  /** Denials the vault answered inside this scope, oldest first. */
  denials: KeybrakeError[];
  /** The scope this one was opened in: a member's tool run inside a supervisor's tool, say. */
  parent?: ActorScope | undefined;
  /** Set on the scopes `runCappedTool` opens: one tool run. */
  run?: ToolRun | undefined;
  /** Set on the scope {@link runDelegation} opens: one delegation to a member, told apart from others. */
  delegation?: { report?: DelegationReport | undefined } | undefined;
}

/**
 * What {@link runDelegation} tells the adapter that runs a member about the member's tool runs
 * that its framework cannot show: those a denial stopped but that answered it as their result
 * (the tool caught the official SDK's error and returned a value, which the framework records as
 * a successful tool call).
 */
export interface DelegationReport {
  /** Those tool runs, in the order they ended: the tool call id (if the run had one) and the denial. */
  readonly answered: Array<{ readonly toolCallId: string | undefined; readonly denial: KeybrakeError }>;
}

/** A tool run: when it started, and the state the steps of one execution share. */
interface ToolRun {
  /** A tick of {@link clock}. */
  startedAt: number;
  /** Shared by the runs that are parts of one execution (a streaming tool's steps). */
  shared: RunOutcome;
}

/** How the tool runs opened inside one tool execution ended: see {@link noteRunEnded}. */
export interface RunOutcome {
  /**
   * Per delegation ({@link runDelegation}), else per member (the runs' `actor.member`): the denial
   * that stopped its last tool run ended here, and when it was noted (a tick of {@link clock}),
   * unless a run of that delegation started after it ended otherwise (the member went on).
   */
  stops?: Map<unknown, { denial: KeybrakeError; at: number }>;
}

/** The nearest tool run scope at or above `scope`. */
function runScope(scope: ActorScope | undefined): ActorScope | undefined {
  let at = scope;
  while (at && !at.run) at = at.parent;
  return at;
}

/**
 * One store per process, however many copies of `@keybrake/core` are installed: an adapter that
 * resolved its own copy must still see the actor and the denials of the app's vault. (Like
 * `KeybrakeError.isInstance`, it keys on a registered symbol; `ActorScope` must stay compatible.)
 */
const STORAGE_KEY = Symbol.for('keybrake.actorScope');
const registry = globalThis as { [STORAGE_KEY]?: AsyncLocalStorage<ActorScope> };
registry[STORAGE_KEY] ??= new AsyncLocalStorage<ActorScope>();
const storage: AsyncLocalStorage<ActorScope> = registry[STORAGE_KEY];
/** Orders tool runs' starts and stops, in one count for every loaded copy (as `storage`). */
const CLOCK_KEY = Symbol.for('keybrake.actorScopeClock');
const clocks = globalThis as { [CLOCK_KEY]?: { tick: number } };
clocks[CLOCK_KEY] ??= { tick: 0 };
const clock: { tick: number } = clocks[CLOCK_KEY];

/**
 * Runs `task` with an actor (member, tool, tool call) that every capped call made inside it —
 * including calls an official SDK makes — records in its audit record.
 *
 * @param denials - Where the vault notes the denials it answers inside `task`: a new list by
 * default; pass one list to several runs that are parts of one tool execution.
 *
 * @example
 * ```ts
 * await runWithActor({ member: 'billing', tool: 'charge', toolCallId: 'call_1' }, () => stripe.paymentIntents.create(...));
 * ```
 */
export function runWithActor<T>(actor: AuditActor, task: () => T, denials: KeybrakeError[] = []): T {
  const parent = storage.getStore();
  return storage.run({ actor: { ...parent?.actor, ...actor }, denials, parent }, task);
}

/** The actor of the current async context, if any. */
export function currentActor(): AuditActor | undefined {
  return storage.getStore()?.actor;
}

/**
 * Notes a denial (called by the vault) in the current scope and every plain {@link runWithActor}
 * scope above it, up to the tool run that holds them: labelling part of a tool's work must not
 * hide its denials from the run.
 */
export function recordDenial(error: KeybrakeError): void {
  for (let scope = storage.getStore(); scope; scope = scope.parent) {
    if (!scope.denials.includes(error)) scope.denials.push(error);
    if (scope.run) break;
  }
}

/**
 * Takes back a denial {@link recordDenial} noted in the current scopes: a call denied as revoked
 * by a team refresh and then sent again with the new key went through, and must not stop its run.
 */
export function forgetDenial(error: KeybrakeError): void {
  for (let scope = storage.getStore(); scope; scope = scope.parent) {
    const index = scope.denials.indexOf(error);
    if (index !== -1) scope.denials.splice(index, 1);
    if (scope.run) break;
  }
}

/** Runs `task` as one tool run (`runCappedTool`): a scope with `actor`, `denials` and the shared outcome. */
export function runAsTool<T>(actor: AuditActor, task: () => T, denials: KeybrakeError[], shared: RunOutcome): T {
  const parent = storage.getStore();
  const run: ToolRun = { startedAt: ++clock.tick, shared };
  return storage.run({ actor: { ...parent?.actor, ...actor }, denials, parent, run }, task);
}

/**
 * Notes, in the tool run the current one was opened in, how the current run ended: stopped by a
 * denial (thrown, or answered as the run's result), or not (`undefined`: the member went on after
 * any earlier denial; only a run started after that denial was noted clears it, never a parallel
 * sibling). A member's run, itself a supervisor's tool, that a denial stopped and that then threw
 * (its model gave up, say) is then answered as that denial too, never as an error to retry, which
 * would run the member and move its money again.
 *
 * @param answered - The run returned normally: a denial that stopped it was answered as its result
 * (noted in its delegation's {@link DelegationReport}, which the framework cannot show).
 */
export function noteRunEnded(denial: KeybrakeError | undefined, answered = false): void {
  const self = storage.getStore();
  if (!self?.run) return;
  const delegation = delegationOf(self);
  if (denial && answered && delegation?.report) {
    const { answered: runs } = delegation.report;
    const toolCallId = self.actor.toolCallId;
    // A streaming tool's steps end one by one with the same denial: one entry.
    const last = runs.at(-1);
    if (last?.denial !== denial || last.toolCallId !== toolCallId) runs.push({ toolCallId, denial });
  }
  const parent = runScope(self.parent)?.run?.shared;
  if (!parent) return;
  const who = delegation ?? self.actor.member;
  if (denial) {
    parent.stops ??= new Map();
    parent.stops.set(who, { denial, at: ++clock.tick });
    return;
  }
  // Went on: only a run of the same delegation started after its denial was noted clears it, never
  // a parallel sibling, nor another delegation's run.
  const stop = parent.stops?.get(who);
  if (stop && self.run.startedAt > stop.at) parent.stops?.delete(who);
}

/** The delegation a tool run belongs to: the nearest {@link runDelegation} scope above it, below its parent run. */
function delegationOf(scope: ActorScope): NonNullable<ActorScope['delegation']> | undefined {
  for (let at = scope.parent; at && !at.run; at = at.parent) if (at.delegation) return at.delegation;
  return undefined;
}

/**
 * For adapters that run a member agent as a tool (`memberAsTool`): runs one delegation, so that
 * two delegations to the same member in parallel are told apart (one that went on does not clear
 * the other's stop).
 *
 * @example
 * ```ts
 * const report: DelegationReport = { answered: [] };
 * const result = await runDelegation(() => member.generate({ prompt: task }), report);
 * report.answered; // the member's tool calls that answered a denial as their result
 * ```
 * @param task - Runs the member.
 * @param report - Where the member's tool runs that answered a denial as their result are noted.
 */
export function runDelegation<T>(task: () => T, report?: DelegationReport): T {
  const parent = storage.getStore();
  return storage.run({ actor: { ...parent?.actor }, denials: [], parent, delegation: { report } }, task);
}

/**
 * For adapters that run a member agent as a tool (`memberAsTool`): the member went on after its
 * last denial, by its framework's own account (a later tool call, even one Keybrake does not
 * wrap). The tool run it runs in then does not read it as stopped by that denial — and only by that
 * one: a parallel sibling member's stop stays.
 *
 * @param denial - The member's last denial, as its tool run raised it.
 * @example
 * ```ts
 * if (memberWentOn) noteMemberWentOn(lastDenial);
 * ```
 */
export function noteMemberWentOn(denial: KeybrakeError): void {
  const stops = runScope(storage.getStore())?.run?.shared.stops;
  if (!stops) return;
  for (const [member, stop] of stops) if (stop.denial === denial) stops.delete(member);
}

/** The latest denial that stopped a member's last tool run ended inside the current one, if any. */
export function stoppedBy(): KeybrakeError | undefined {
  let latest: { denial: KeybrakeError; at: number } | undefined;
  for (const stop of storage.getStore()?.run?.shared.stops?.values() ?? []) {
    if (!latest || stop.at > latest.at) latest = stop;
  }
  return latest?.denial;
}

/** The denials recorded in the current scope. */
export function scopeDenials(): readonly KeybrakeError[] {
  return storage.getStore()?.denials ?? [];
}
