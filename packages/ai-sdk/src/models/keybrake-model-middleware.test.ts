import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { createBearerVendor, createFixedPriceCostModel, createVault, findKeybrakeError } from '@keybrake/core';
import { APICallError, generateText, streamText, wrapLanguageModel } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keybrakeModelMiddleware } from './keybrake-model-middleware.js';

/**
 * A loopback OpenAI-compatible chat-completions upstream that counts what reaches it. The first
 * `rateLimited` calls are answered by the vendor's own 429 (retry at once): a transient error.
 */
async function startFakeLlm({ rateLimited = 0, port = 0 } = {}) {
  let calls = 0;
  const server: Server = createServer(async (req, res) => {
    for await (const _ of req);
    calls++;
    if (calls <= rateLimited) {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after-ms': '0' });
      res.end(JSON.stringify({ error: { message: 'Rate limit reached', type: 'rate_limit_error' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: `chatcmpl_${calls}`,
        object: 'chat.completion',
        created: 1,
        model: 'm',
        choices: [{ index: 0, message: { role: 'assistant', content: 'hi' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    calls: () => calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

type FakeLlm = Awaited<ReturnType<typeof startFakeLlm>>;

/** A vault whose `llm` vendor is the fake LLM at $1 a chat completion, and a wrapped model on a key capped at `capUsd`. */
async function openCappedModel(llm: Pick<FakeLlm, 'url'>, capUsd: number) {
  const vault = createVault({
    vendors: {
      llm: createBearerVendor({
        name: 'llm',
        baseUrl: llm.url,
        costModel: createFixedPriceCostModel({ prices: { 'POST /v1/chat/completions': 1 } }),
      }),
    },
    secrets: { llm: 'sk_llm_secret' },
  });
  const key = await vault.issueKey({ vendor: 'llm', capUsd, label: 'agent' });
  const provider = createOpenAICompatible({
    name: 'llm',
    baseURL: `${llm.url}/v1`,
    apiKey: key.vaultKey,
    fetch: vault.createFetch({ vaultKey: key.vaultKey }),
  });
  const model = wrapLanguageModel({ model: provider.chatModel('m'), middleware: keybrakeModelMiddleware() });
  const denials = async () =>
    (await vault.queryAudit({ keyId: key.id })).records.filter((record) => record.decision === 'denied');
  return { vault, key, model, denials };
}

describe('keybrakeModelMiddleware', () => {
  describe('when the model provider is a capped vendor and the key runs out of budget', () => {
    let llm: FakeLlm;
    beforeEach(async () => {
      llm = await startFakeLlm({ rateLimited: 1 });
    });
    afterEach(() => llm.close());

    it('should make one generateText attempt at the denial, still retrying the vendor own 429', async () => {
      const { vault, model, denials } = await openCappedModel(llm, 1.5);
      await generateText({ model, prompt: 'one' }); // the vendor's 429, retried, then $1 of $1.50

      const started = Date.now();
      const error = await generateText({ model, prompt: 'two' }).catch((e: unknown) => e); // default maxRetries: 2

      expect(llm.calls()).toBe(2);
      expect(await denials()).toHaveLength(1);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(APICallError.isInstance(error) && [error.statusCode, error.isRetryable]).toEqual([429, false]);
      expect(findKeybrakeError(error)).toMatchObject({ code: 'KEYBRAKE_CAP_EXCEEDED', capUsd: 1.5, attemptedUsd: 1 });
      await vault.close();
    });

    it('should make one streamText attempt at the denial', async () => {
      const { vault, model, denials } = await openCappedModel(llm, 0.5);
      const errors: unknown[] = [];

      const started = Date.now();
      const result = streamText({ model, prompt: 'one', onError: ({ error }) => void errors.push(error) }); // default maxRetries: 2
      await result.consumeStream();

      expect(llm.calls()).toBe(0);
      expect(await denials()).toHaveLength(1);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(errors.map((error) => findKeybrakeError(error)?.code)).toEqual(['KEYBRAKE_CAP_EXCEEDED']);
      await vault.close();
    });
  });

  describe('when the vendor cannot be reached at first', () => {
    it('should leave the retry to maxRetries: nothing was sent and nothing counted', async () => {
      const probe = await startFakeLlm();
      const port = Number(new URL(probe.url).port);
      await probe.close(); // nothing listens there now: connection refused, a 502 from Keybrake
      const { vault, model } = await openCappedModel({ url: `http://127.0.0.1:${port}` }, 10);
      let llm: FakeLlm | undefined;
      try {
        const attempt = generateText({ model, prompt: 'hi', maxRetries: 2 }).then(
          (result) => result.text,
          (error: unknown) => error,
        );
        await new Promise((resolve) => setTimeout(resolve, 500)); // back before the SDK's first retry (2 s)
        llm = await startFakeLlm({ port });
        expect(await attempt).toBe('hi');
        expect(llm.calls()).toBe(1);
      } finally {
        await llm?.close();
        await vault.close();
      }
    }, 20_000);
  });

  describe('when the denial arrives as a frozen APICallError', () => {
    it('should rethrow it rebuilt as not retryable, with the same fields', async () => {
      const body = JSON.stringify({
        error: { type: 'keybrake_error', code: 'KEYBRAKE_KEY_EXPIRED', message: 'Expired.' },
      });
      const denial = Object.freeze(
        new APICallError({
          message: 'Expired.',
          url: 'http://127.0.0.1/v1/chat/completions',
          requestBodyValues: { model: 'm' },
          statusCode: 429,
          responseHeaders: { 'x-keybrake-code': 'KEYBRAKE_KEY_EXPIRED', 'x-should-retry': 'false' },
          responseBody: body,
          data: { error: { message: 'Expired.' } },
          cause: new Error('denied'),
        }),
      );
      const inner = new MockLanguageModelV4({
        doGenerate: async () => {
          throw denial;
        },
      });
      const model = wrapLanguageModel({ model: inner, middleware: keybrakeModelMiddleware() });

      const error = await generateText({ model, prompt: 'one' }).catch((e: unknown) => e);

      expect(inner.doGenerateCalls).toHaveLength(1);
      expect(APICallError.isInstance(error) && error.isRetryable).toBe(false);
      expect(error).toMatchObject({
        url: denial.url,
        statusCode: 429,
        responseHeaders: denial.responseHeaders,
        responseBody: body,
        data: denial.data,
        cause: denial.cause,
      });
      expect(findKeybrakeError(error)?.code).toBe('KEYBRAKE_KEY_EXPIRED');
    });
  });
});
