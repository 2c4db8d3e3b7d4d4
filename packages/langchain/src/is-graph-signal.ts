/**
 * Whether an error is LangGraph's control flow rather than a failure: `interrupt()`'s
 * `GraphInterrupt`, a `Command` sent to the parent graph — what LangGraph's own `isGraphBubbleUp`
 * checks, read the same way, so this package needs no LangGraph import.
 */
export function isGraphSignal(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { is_bubble_up?: unknown }).is_bubble_up === true;
}
