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
  /**
   * The denial that stopped the last tool run that ended inside this scope, unless a later run
   * ended well (the member went on): see {@link noteRunEnded}.
   */
  stoppedBy?: KeybrakeError | undefined;
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

/** Notes a denial in the current scope (called by the vault). */
export function recordDenial(error: KeybrakeError): void {
  storage.getStore()?.denials.push(error);
}

/**
 * Notes, in the scope the current tool run was opened in, how the run ended: stopped by a
 * denial (thrown, or answered as the run's result), or well (`undefined`: the member went on
 * after any earlier denial). A member's run,
 * itself a supervisor's tool, that a denial stopped and that then threw (its model gave up, say)
 * is then answered as that denial too, never as an error to retry, which would run the member
 * and move its money again.
 */
export function noteRunEnded(denial: KeybrakeError | undefined): void {
  const parent = storage.getStore()?.parent;
  if (parent) parent.stoppedBy = denial;
}

/** The denial that stopped the last tool run ended inside the current scope, unless one ended well later. */
export function stoppedBy(): KeybrakeError | undefined {
  return storage.getStore()?.stoppedBy;
}

/** The denials recorded in the current scope. */
export function scopeDenials(): readonly KeybrakeError[] {
  return storage.getStore()?.denials ?? [];
}
