import { findKeybrakeError, isPolicyDenial } from '@keybrake/core';
import { APICallError, type LanguageModelMiddleware } from 'ai';

/**
 * A language-model middleware for `wrapLanguageModel` (from `ai`) for a model whose provider is
 * itself a capped vendor: an OpenAI-compatible API behind `createBearerVendor`, called through a
 * vault key with `vault.createFetch` or the Keybrake proxy.
 *
 * AI SDK providers mark every 429 `APICallError` as retryable, so without it a cap denial is
 * retried by `maxRetries` (by default 2 more denied attempts and audit records, after seconds of
 * backoff). This middleware rethrows an `APICallError` carrying a Keybrake denial (its
 * `x-keybrake-code` header, or a Keybrake error in its JSON body) as not retryable, from
 * `doGenerate` and `doStream`, so `generateText`, `streamText`, `ToolLoopAgent` and Mastra agents
 * using the wrapped model make one attempt. The error keeps its fields (`statusCode`,
 * `responseHeaders`, `responseBody`, `data`, `cause`), and `findKeybrakeError` finds the typed
 * denial behind it. Other errors pass through unchanged, Keybrake's that are not denials by
 * policy among them (`isPolicyDenial`: an unreachable vendor, a storage outage, a repeated
 * `Idempotency-Key` still in flight), so the SDK retries those as before.
 *
 * @returns The middleware.
 * @example
 * ```ts
 * import { keybrakeModelMiddleware } from '@keybrake/ai-sdk';
 * import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
 * import { generateText, wrapLanguageModel } from 'ai';
 *
 * const provider = createOpenAICompatible({
 *   name: 'llm',
 *   baseURL: 'https://api.llm.test/v1',
 *   apiKey: key.vaultKey,
 *   fetch: vault.createFetch({ vaultKey: key.vaultKey }),
 * });
 * const model = wrapLanguageModel({ model: provider.chatModel('m'), middleware: keybrakeModelMiddleware() });
 * await generateText({ model, prompt: 'Hello' }); // a cap denial is thrown at once, not retried
 * ```
 */
export function keybrakeModelMiddleware(): LanguageModelMiddleware {
  return {
    specificationVersion: 'v4',
    wrapGenerate: async ({ doGenerate }) => {
      try {
        return await doGenerate();
      } catch (error) {
        throw withoutRetryOfDenial(error);
      }
    },
    wrapStream: async ({ doStream }) => {
      try {
        return await doStream();
      } catch (error) {
        throw withoutRetryOfDenial(error);
      }
    },
  };
}

/** The error, marked not retryable if it is a retryable-looking `APICallError` for a Keybrake denial. */
function withoutRetryOfDenial(error: unknown): unknown {
  if (!APICallError.isInstance(error) || !error.isRetryable) return error;
  const headers = error.responseHeaders ?? {};
  const denial = findKeybrakeError(error);
  const code = denial?.code ?? headers['x-keybrake-code'];
  if (code === undefined) return error;
  // Only a denial by policy is final: an unreachable vendor, a storage outage or a call still in
  // flight (Keybrake's own `retryable`, else its `x-should-retry`) may go through on a retry.
  const retryable = denial?.retryable ?? headers['x-should-retry'] === 'true';
  if (!isPolicyDenial({ code, retryable })) return error;
  try {
    // A plain own field at runtime (`readonly` only in its type): set on the instance, the error
    // keeps its class, stack and every field.
    Object.defineProperty(error, 'isRetryable', { value: false });
    return error;
  } catch {
    // A frozen error: rebuilt with the same fields.
    return new APICallError({
      message: error.message,
      url: error.url,
      requestBodyValues: error.requestBodyValues,
      statusCode: error.statusCode,
      responseHeaders: error.responseHeaders,
      responseBody: error.responseBody,
      data: error.data,
      cause: error.cause,
      isRetryable: false,
    });
  }
}
