import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { keybrakeModelMiddleware } from '@keybrake/ai-sdk';
import { createBearerVendor, createFixedPriceCostModel, createVault } from '@keybrake/core';
import { Agent } from '@mastra/core/agent';
import type { MastraModelConfig } from '@mastra/core/llm';
import { wrapLanguageModel } from 'ai';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

/** A loopback OpenAI-compatible chat-completions upstream that counts what reaches it. */
async function startFakeLlm() {
  let calls = 0;
  const server: Server = createServer(async (req, res) => {
    for await (const _ of req);
    calls++;
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls: () => calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('keybrakeModelMiddleware (from @keybrake/ai-sdk) in a Mastra agent', () => {
  let llm: Awaited<ReturnType<typeof startFakeLlm>>;
  beforeEach(async () => {
    llm = await startFakeLlm();
  });
  afterEach(() => llm.close());

  describe('when the agent model provider is a capped vendor and the key runs out of budget', () => {
    it('should make one model call attempt at the denial despite maxRetries', async () => {
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
      const key = await vault.issueKey({ vendor: 'llm', capUsd: 1.5 });
      const provider = createOpenAICompatible({
        name: 'llm',
        baseURL: `${llm.url}/v1`,
        apiKey: key.vaultKey,
        fetch: vault.createFetch({ vaultKey: key.vaultKey }),
      });
      // Mastra types `model` with its own pinned copy of `@ai-sdk/provider`: the `LanguageModelV4` that `ai`
      // returns is another copy's, the same model at runtime.
      const model = wrapLanguageModel({
        model: provider.chatModel('m'),
        middleware: keybrakeModelMiddleware(),
      }) as MastraModelConfig;
      const agent = new Agent({ id: 'a', name: 'a', instructions: 'Be brief.', model, maxRetries: 2 });

      await agent.generate('one'); // $1 of $1.50
      const started = Date.now();
      await agent.generate('two').catch((e: unknown) => e);

      const { records } = await vault.queryAudit({ keyId: key.id });
      expect(llm.calls()).toBe(1);
      expect(records.filter((record) => record.decision === 'denied')).toHaveLength(1);
      expect(Date.now() - started).toBeLessThan(1000);
      await vault.close();
    });
  });
});
