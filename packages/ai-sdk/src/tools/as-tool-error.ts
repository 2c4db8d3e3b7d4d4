import { formatDenialForModel, type KeybrakeError } from '@keybrake/core';

/**
 * Makes a Keybrake denial read, where the AI SDK shows it to a model, as
 * {@link formatDenialForModel}: the SDK turns a thrown tool error into the `error-text` tool
 * result `error.toString()`, and `KeybrakeError#toString` alone (`Name [CODE]: message`) lacks the
 * structured fields (label, cap, spent). The error stays the same typed `KeybrakeError` for code.
 *
 * @param denial - The typed denial to throw from a tool.
 * @param note - An extra line for the model (e.g. what a member reported before it was stopped).
 * @returns The same error, with an own non-enumerable `toString`.
 * @example
 * ```ts
 * throw asToolError(denial); // the model reads 'KEYBRAKE_CAP_EXCEEDED: Keybrake denied this call: …\n{"code":…}'
 * ```
 * @internal
 */
export function asToolError(denial: KeybrakeError, note?: string): KeybrakeError {
  const text = note ? `${formatDenialForModel(denial)}\n${note}` : formatDenialForModel(denial);
  Object.defineProperty(denial, 'toString', { value: () => text, configurable: true, writable: true });
  return denial;
}
