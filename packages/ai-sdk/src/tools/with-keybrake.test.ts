import { CapExceededError, EndpointNotAllowedError, KeybrakeError } from '@keybrake/core';
import {
  generateText,
  isStepCount,
  simulateReadableStream,
  streamText,
  type Tool,
  type ToolExecutionOptions,
  tool,
  toolSearch,
} from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createScriptedModel, lastToolResults } from '../test-utils/create-scripted-model.js';
import {
  billingTools,
  chargeCard,
  notificationTools,
  openTestTeam,
  stripeFor,
  twilioFor,
} from '../test-utils/open-test-team.js';
import { withKeybrake } from './with-keybrake.js';

describe('withKeybrake', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  describe('when a member charges past its cap through the Stripe SDK', () => {
    it("should put Keybrake's cap error in the model's next prompt as an error-text tool result and finish the run", async () => {
      const { team, fakeStripe, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      const model = createScriptedModel('billing', [
        { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 100 }, toolCallId: 'call_1' }] },
        { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_2', amountUsd: 100 }, toolCallId: 'call_2' }] },
        { text: 'I was stopped by the spending cap after one charge.' },
      ]);

      const result = await generateText({
        model,
        tools: withKeybrake(billingTools(stripeFor(billing)), { member: billing }),
        stopWhen: isStepCount(5),
        prompt: 'Charge cus_1 and cus_2 $100 each.',
      });

      const [denied] = lastToolResults(model.doGenerateCalls[2]);
      expect(denied).toMatchObject({ toolCallId: 'call_2', toolName: 'charge', output: { type: 'error-text' } });
      const text = String(denied?.output.value);
      expect(text).toMatch(
        /^KEYBRAKE_CAP_EXCEEDED: Keybrake denied this call: it would exceed this key's spending cap\./,
      );
      expect(text).toContain('Budget $150.00, spent $100.00, in flight $0.00, this call $100.00.');
      expect(text).toContain('Retrying will not help; report to your supervisor or stop.');
      expect(JSON.parse(text.slice(text.indexOf('\n') + 1))).toMatchObject({
        code: 'KEYBRAKE_CAP_EXCEEDED',
        label: 'billing-team/test/billing',
        capUsd: 150,
        spentUsd: 100,
        attemptedUsd: 100,
        retryable: false,
      });

      expect(result.text).toBe('I was stopped by the spending cap after one charge.');
      const toolError = result.steps[1]?.content.find((part) => part.type === 'tool-error');
      expect(toolError?.type === 'tool-error' && toolError.error).toBeInstanceOf(CapExceededError);
      expect(fakeStripe.moneyMoved().map((movement) => movement.amount)).toEqual([10_000]);
      expect(await billing.status()).toMatchObject({ spentUsd: 100 });
      const { records } = await team.audit();
      expect(records.map((record) => [record.decision, record.actor]).reverse()).toEqual([
        ['allowed', { member: 'billing', tool: 'charge', toolCallId: 'call_1' }],
        ['denied', { member: 'billing', tool: 'charge', toolCallId: 'call_2' }],
      ]);
    });
  });

  describe('when the member streams (streamText, UI message streams)', () => {
    it('should give the model and the UI the same error text', async () => {
      const { team, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      const usage = {
        inputTokens: { total: 1, noCache: 1, cacheRead: undefined, cacheWrite: undefined },
        outputTokens: { total: 1, text: 1, reasoning: undefined },
      };
      const model = new MockLanguageModelV4({
        doStream: [
          {
            stream: simulateReadableStream({
              chunks: [
                {
                  type: 'tool-call' as const,
                  toolCallId: 'call_big',
                  toolName: 'charge',
                  input: JSON.stringify({ customer: 'cus_1', amountUsd: 200 }),
                },
                { type: 'finish' as const, finishReason: { unified: 'tool-calls' as const, raw: undefined }, usage },
              ],
            }),
          },
          {
            stream: simulateReadableStream({
              chunks: [
                { type: 'text-start' as const, id: 't' },
                { type: 'text-delta' as const, id: 't', delta: 'Over my cap.' },
                { type: 'text-end' as const, id: 't' },
                { type: 'finish' as const, finishReason: { unified: 'stop' as const, raw: undefined }, usage },
              ],
            }),
          },
        ],
      });

      const result = streamText({
        model,
        tools: withKeybrake(billingTools(stripeFor(billing)), { member: billing }),
        stopWhen: isStepCount(3),
        prompt: 'Charge cus_1 $200.',
      });
      const chunks = [];
      for await (const chunk of result.toUIMessageStream()) chunks.push(chunk);

      const modelRead = lastToolResults(model.doStreamCalls[1])[0]?.output;
      expect(modelRead).toEqual({
        type: 'error-text',
        value: expect.stringMatching(/^KEYBRAKE_CAP_EXCEEDED: .*this call \$200\.00\..*"capUsd":150/s),
      });
      expect(chunks).toContainEqual(
        expect.objectContaining({ type: 'tool-output-error', toolCallId: 'call_big', errorText: modelRead?.value }),
      );
      expect(await result.text).toBe('Over my cap.');
    });
  });

  describe('when a member calls an endpoint its key does not allow', () => {
    it('should hand the model KEYBRAKE_ENDPOINT_NOT_ALLOWED and send nothing to Stripe', async () => {
      const { team, fakeStripe, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      const model = createScriptedModel('billing', [
        { toolCalls: [{ toolName: 'refund', input: { paymentIntent: 'pi_123' } }] },
        { text: 'Refunds are not allowed for me.' },
      ]);

      const result = await generateText({
        model,
        tools: withKeybrake(billingTools(stripeFor(billing)), { member: 'billing' }),
        stopWhen: isStepCount(3),
        prompt: 'Refund pi_123.',
      });

      expect(lastToolResults(model.doGenerateCalls[1])[0]?.output).toEqual({
        type: 'error-text',
        value: expect.stringMatching(/^KEYBRAKE_ENDPOINT_NOT_ALLOWED: .*"path":"\/v1\/refunds"/s),
      });
      const toolError = result.steps[0]?.content.find((part) => part.type === 'tool-error');
      expect(toolError?.type === 'tool-error' && toolError.error).toBeInstanceOf(EndpointNotAllowedError);
      expect(fakeStripe.requests).toHaveLength(0);
    });
  });

  describe('when a member texts past its cap through the Twilio SDK', () => {
    it("should turn Twilio's RestException into the cap error the model reads", async () => {
      const {
        team,
        fakeTwilio,
        close: closeTeam,
      } = await openTestTeam({
        notifications: { vendor: 'twilio', capUsd: 0.02 },
      });
      close = closeTeam;
      const notifications = team.member('notifications');
      const text = (to: string) => ({ toolName: 'send_sms', input: { to, body: 'Your invoice is paid.' } });
      const model = createScriptedModel('notifications', [
        { toolCalls: [text('+15005550006'), text('+15005550007')] },
        { toolCalls: [text('+15005550008')] },
        { text: 'Two texts sent; the third was stopped.' },
      ]);

      await generateText({
        model,
        tools: withKeybrake(notificationTools(twilioFor(notifications)), { member: notifications }),
        stopWhen: isStepCount(5),
        prompt: 'Text three customers.',
      });

      expect(lastToolResults(model.doGenerateCalls[1]).map((result) => result.output.type)).toEqual(['json', 'json']);
      expect(lastToolResults(model.doGenerateCalls[2])[0]?.output).toEqual({
        type: 'error-text',
        value: expect.stringMatching(
          /^KEYBRAKE_CAP_EXCEEDED: .*Budget \$0\.02, spent \$0\.0166,.*this call \$0\.0083\./,
        ),
      });
      expect(fakeTwilio.messages()).toHaveLength(2);
    });
  });

  describe('when a tool is an object whose execute uses this', () => {
    it('should call execute on the tool, as the AI SDK does, and keep private fields and non-enumerable properties', async () => {
      const { team, fakeStripe, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      const stripe = stripeFor(billing);
      class ChargeTool {
        readonly #description = 'Charge a customer in the tool set currency.';
        readonly #stripe = stripe;
        get description() {
          return this.#description;
        }
        readonly inputSchema = z.object({ customer: z.string() });
        readonly currency = 'usd';
        async execute({ customer }: { customer: string }) {
          const intent = await this.#stripe.paymentIntents.create({
            amount: 500,
            currency: this.currency,
            customer,
            payment_method: 'pm_card_visa',
            confirm: true,
          });
          return { id: intent.id };
        }
      }
      const charge = new ChargeTool();
      Object.defineProperty(charge, 'marker', { value: 'kept', enumerable: false });
      const tools = withKeybrake({ charge: charge as unknown as Tool }, { member: billing });
      expect((tools.charge as unknown as { marker?: string }).marker).toBe('kept');
      const result = await generateText({
        model: createScriptedModel('billing', [
          { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1' } }] },
          { text: 'done' },
        ]),
        tools,
        stopWhen: isStepCount(3),
        prompt: 'Charge cus_1 $5.',
      });
      expect(result.steps[0]?.content.filter((part) => part.type === 'tool-error')).toEqual([]);
      expect(fakeStripe.moneyMoved()).toHaveLength(1);
    });

    it('should wrap a frozen tool, and never change the tool it was given', async () => {
      const { team, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      const execute = async () => 'ok';
      const frozen = Object.freeze(tool({ description: 'Frozen.', inputSchema: z.object({}), execute }));
      const open = tool({ description: 'Open.', inputSchema: z.object({}), execute });
      const tools = withKeybrake({ frozen, open }, { member: billing });
      for (const name of ['frozen', 'open'] as const) {
        expect(tools[name].execute).not.toBe(execute);
        expect({ ...tools[name] }.execute).toBe(tools[name].execute);
        expect(tools[name].description).toBe(name === 'frozen' ? 'Frozen.' : 'Open.');
      }
      expect(open.execute).toBe(execute);
      const result = await generateText({
        model: createScriptedModel('billing', [{ toolCalls: [{ toolName: 'frozen', input: {} }] }, { text: 'done' }]),
        tools,
        stopWhen: isStepCount(3),
        prompt: 'Go.',
      });
      expect(result.steps[0]?.content.find((part) => part.type === 'tool-result')).toMatchObject({ output: 'ok' });
    });

    it('should run the methods the AI SDK calls on the tool (toModelOutput, needsApproval, onInputAvailable)', async () => {
      const { team, fakeStripe, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      const stripe = stripeFor(billing);
      class ChargeTool {
        readonly #stripe = stripe;
        readonly #reviewed = new Set(['cus_vip']);
        readonly #inputs: unknown[] = [];
        readonly description = 'Charge a customer $5.';
        readonly inputSchema = z.object({ customer: z.string() });
        get inputs() {
          return this.#inputs;
        }
        async execute({ customer }: { customer: string }) {
          const intent = await chargeCard(this.#stripe, customer, 5);
          return { id: intent.id };
        }
        needsApproval({ customer }: { customer: string }) {
          return this.#reviewed.has(customer);
        }
        onInputAvailable({ input }: { input: unknown }) {
          this.#inputs.push(input);
        }
        toModelOutput({ output }: { output: { id: string } }) {
          return { type: 'text' as const, value: `Charged ${this.#reviewed.size > 0 ? output.id : ''}` };
        }
      }
      const charge = new ChargeTool();
      const model = createScriptedModel('billing', [
        { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1' } }] },
        { text: 'done' },
      ]);

      const result = await generateText({
        model,
        tools: withKeybrake({ charge: charge as unknown as Tool }, { member: billing }),
        stopWhen: isStepCount(3),
        prompt: 'Charge cus_1 $5.',
      });

      expect(result.steps[0]?.content.filter((part) => part.type === 'tool-error')).toEqual([]);
      expect(lastToolResults(model.doGenerateCalls[1])[0]?.output).toEqual({
        type: 'text',
        value: expect.stringMatching(/^Charged pi_/),
      });
      expect(charge.inputs).toEqual([{ customer: 'cus_1' }]);
      expect(fakeStripe.moneyMoved()).toHaveLength(1);
    });

    it('should read the getters of a frozen class-based tool on the tool itself', async () => {
      const { team, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      class LookupTool {
        readonly #description = 'Look up a customer.';
        get description() {
          return this.#description;
        }
        readonly inputSchema = z.object({ customer: z.string() });
        async execute({ customer }: { customer: string }) {
          return `${customer} found`;
        }
      }
      const lookup = Object.freeze(new LookupTool());
      const model = createScriptedModel('billing', [
        { toolCalls: [{ toolName: 'lookup', input: { customer: 'cus_1' } }] },
        { text: 'done' },
      ]);

      const result = await generateText({
        model,
        tools: withKeybrake({ lookup: lookup as unknown as Tool }, { member: billing }),
        stopWhen: isStepCount(3),
        prompt: 'Look up cus_1.',
      });

      expect(model.doGenerateCalls[0]?.tools).toEqual([
        expect.objectContaining({ name: 'lookup', description: 'Look up a customer.' }),
      ]);
      expect(result.steps[0]?.content.find((part) => part.type === 'tool-result')).toMatchObject({
        output: 'cus_1 found',
      });
    });
  });

  describe('when code changes a wrapped tool (tracing, freezing)', () => {
    it('should hand out the wrapped tool, not the uncapped one, from a fluent method (return this)', async () => {
      const { team, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      const stripe = stripeFor(billing);
      class ChargeTool {
        description = 'Charge a customer.';
        readonly inputSchema = z.object({ customer: z.string(), amountUsd: z.number() });
        /** Fluent configuration, as class-based tool libraries offer. */
        describedAs(description: string) {
          this.description = description;
          return this;
        }
        async execute({ customer, amountUsd }: { customer: string; amountUsd: number }) {
          const intent = await chargeCard(stripe, customer, amountUsd);
          return { id: intent.id };
        }
      }
      const wrapped = withKeybrake({ charge: new ChargeTool() as unknown as Tool }, { member: billing });
      const charge = (wrapped.charge as unknown as ChargeTool).describedAs('Charge a customer their card on file.');
      const model = createScriptedModel('billing', [
        { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 500 }, toolCallId: 'call_1' }] },
        { text: 'done' },
      ]);

      await generateText({
        model,
        tools: { charge: charge as unknown as Tool },
        stopWhen: isStepCount(3),
        prompt: 'Charge cus_1 $500.',
      });

      expect(charge).toBe(wrapped.charge);
      const [read] = lastToolResults(model.doGenerateCalls[1]);
      expect(String(read?.output.value)).toMatch(/^KEYBRAKE_CAP_EXCEEDED: /);
      const { records } = await team.audit();
      expect(records.map((record) => record.actor)).toEqual([
        { member: 'billing', tool: 'charge', toolCallId: 'call_1' },
      ]);
    });

    it('should put a replaced execute on the wrapped tool only, and leave the given tool unchanged', async () => {
      const { team, fakeStripe, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      const given = billingTools(stripeFor(billing)) as Record<'charge' | 'refund', Tool>;
      const { execute } = given.charge;
      const tools = withKeybrake(given, { member: billing });
      const capped = tools.charge.execute;
      const traced: string[] = [];
      // What tracing does: replace execute with a wrapper of itself.
      tools.charge.execute = (input: unknown, options: ToolExecutionOptions<unknown>) => {
        traced.push(options.toolCallId);
        return capped?.(input, options);
      };
      delete tools.refund.description;
      expect(given.charge.execute).toBe(execute);
      expect(given.refund.description).toBe('Refund a payment.');
      const model = createScriptedModel('billing', [
        { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 5 }, toolCallId: 'call_1' }] },
        { text: 'done' },
      ]);

      await generateText({ model, tools, stopWhen: isStepCount(3), prompt: 'Charge cus_1 $5.' });

      expect(traced).toEqual(['call_1']);
      expect(model.doGenerateCalls[0]?.tools?.find((entry) => entry.name === 'refund')).not.toHaveProperty(
        'description',
      );
      const { records } = await team.audit();
      expect(records.map((record) => record.actor)).toEqual([
        { member: 'billing', tool: 'charge', toolCallId: 'call_1' },
      ]);
      expect(fakeStripe.moneyMoved()).toHaveLength(1);
    });

    it('should freeze only the wrapped tool, which the AI SDK still spreads (tool search)', async () => {
      const { team, fakeStripe, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      const stripe = stripeFor(billing);
      const search = toolSearch();
      const charge = tool({
        description: 'Charge a customer $5.',
        inputSchema: z.object({ customer: z.string() }),
        deferLoading: true,
        execute: async ({ customer }) => {
          const intent = await chargeCard(stripe, customer, 5);
          return { id: intent.id };
        },
      });
      const tools = withKeybrake({ search, charge }, { member: billing });
      for (const wrapped of Object.values(tools)) Object.freeze(wrapped);
      expect([Object.isFrozen(tools.search), Object.isFrozen(tools.charge)]).toEqual([true, true]);
      expect([Object.isFrozen(search), Object.isFrozen(charge)]).toEqual([false, false]);
      expect({ ...tools.charge }.execute).toBe(tools.charge.execute);
      const model = createScriptedModel('billing', [
        { toolCalls: [{ toolName: 'search', input: { query: 'charge' } }] },
        { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1' }, toolCallId: 'call_1' }] },
        { text: 'done' },
      ]);

      const result = await generateText({ model, tools, stopWhen: isStepCount(4), prompt: 'Charge cus_1 $5.' });

      expect(model.doGenerateCalls.map((call) => call.tools?.map((entry) => entry.name))).toEqual([
        ['search'],
        ['search', 'charge'],
        ['search', 'charge'],
      ]);
      expect(result.steps.flatMap((step) => step.content.filter((part) => part.type === 'tool-error'))).toEqual([]);
      const { records } = await team.audit();
      expect(records.map((record) => record.actor)).toEqual([
        { member: 'billing', tool: 'charge', toolCallId: 'call_1' },
      ]);
      expect(fakeStripe.moneyMoved()).toHaveLength(1);
    });
  });

  describe('when a tool fails for a reason of its own', () => {
    it('should pass the error through unchanged', async () => {
      const { team, fakeStripe, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      fakeStripe.failNext(402, {
        error: { type: 'card_error', code: 'card_declined', message: 'Your card was declined.' },
      });
      const broken = new Error('the CRM is down');
      const tools = withKeybrake(
        {
          ...billingTools(stripeFor(billing)),
          crm: tool({
            inputSchema: z.object({}),
            execute: async (): Promise<string> => {
              throw broken;
            },
          }),
        },
        { member: billing },
      );
      const model = createScriptedModel('billing', [
        {
          toolCalls: [
            { toolName: 'charge', input: { customer: 'cus_1', amountUsd: 5 } },
            { toolName: 'crm', input: {} },
          ],
        },
        { text: 'The card was declined and the CRM is down.' },
      ]);

      const result = await generateText({ model, tools, stopWhen: isStepCount(3), prompt: 'Charge cus_1 $5.' });

      expect(lastToolResults(model.doGenerateCalls[1]).map((part) => part.output)).toEqual([
        { type: 'error-text', value: expect.stringMatching(/^Error: Your card was declined\.$/) },
        { type: 'error-text', value: 'Error: the CRM is down' },
      ]);
      const errors = result.steps[0]?.content.flatMap((part) => (part.type === 'tool-error' ? [part.error] : []));
      expect(errors?.[1]).toBe(broken);
      expect(errors?.some((error) => KeybrakeError.isInstance(error))).toBe(false);
    });
  });

  describe('when a tool streams preliminary results', () => {
    it('should keep the stream, audit every step with the actor and map a denial in a later step', async () => {
      const { team, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      const stripe = stripeFor(billing);
      const tools = withKeybrake(
        {
          charge_batch: tool({
            inputSchema: z.object({ count: z.number() }),
            async *execute({ count }) {
              for (let index = 0; index < count; index++) {
                await stripe.paymentIntents.create({ amount: 6000, currency: 'usd', confirm: true });
                yield { charged: index + 1 };
              }
            },
          }),
        },
        { member: billing },
      );
      const preliminary: unknown[] = [];
      const model = createScriptedModel('billing', [
        { toolCalls: [{ toolName: 'charge_batch', input: { count: 2 }, toolCallId: 'batch_1' }] },
        { toolCalls: [{ toolName: 'charge_batch', input: { count: 2 }, toolCallId: 'batch_2' }] },
        { text: 'Stopped.' },
      ]);

      await generateText({
        model,
        tools,
        stopWhen: isStepCount(5),
        prompt: 'Charge in batches.',
        onToolExecutionEnd: ({ toolOutput }) => {
          preliminary.push(toolOutput.type === 'tool-result' ? toolOutput.output : 'error');
        },
      });

      expect(lastToolResults(model.doGenerateCalls[1])[0]?.output).toEqual({ type: 'json', value: { charged: 2 } });
      expect(lastToolResults(model.doGenerateCalls[2])[0]?.output.value).toMatch(/^KEYBRAKE_CAP_EXCEEDED: /);
      expect(preliminary).toEqual([{ charged: 2 }, 'error']);
      const { records } = await team.audit();
      expect(records.map((record) => `${record.actor?.toolCallId}:${record.decision}`).reverse()).toEqual([
        'batch_1:allowed',
        'batch_1:allowed',
        'batch_2:denied',
      ]);
    });

    it('should read a denial in one step and the error the tool throws in a later step as one denial', async () => {
      const { team, fakeStripe, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      const stripe = stripeFor(billing);
      const tools = withKeybrake(
        {
          charge: tool({
            inputSchema: z.object({ amountUsd: z.number() }),
            async *execute({ amountUsd }) {
              yield { status: 'charging' };
              let failure: unknown;
              try {
                await stripe.paymentIntents.create({ amount: amountUsd * 100, currency: 'usd', confirm: true });
              } catch (error) {
                failure = error;
              }
              // The usual streaming pattern: show the failure, then fail.
              yield { status: failure ? 'failed' : 'charged' };
              if (failure) throw new Error('the charge failed');
            },
          }),
        },
        { member: billing },
      );
      const model = createScriptedModel('billing', [
        { toolCalls: [{ toolName: 'charge', input: { amountUsd: 500 }, toolCallId: 'call_1' }] },
        { text: 'Stopped.' },
      ]);

      const result = await generateText({ model, tools, stopWhen: isStepCount(3), prompt: 'Charge $500.' });

      const failed = result.steps[0]?.content.find((part) => part.type === 'tool-error');
      expect(failed && CapExceededError.isInstance(failed.error)).toBe(true);
      expect(lastToolResults(model.doGenerateCalls[1])[0]?.output.value).toMatch(/^KEYBRAKE_CAP_EXCEEDED: /);
      expect(fakeStripe.moneyMoved()).toHaveLength(0);
    });
  });

  describe('when the transcript is serialised', () => {
    it('should never contain a vault key', async () => {
      const { team, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      const model = createScriptedModel('billing', [
        {
          toolCalls: [
            { toolName: 'charge', input: { customer: 'cus_1', amountUsd: 149 } },
            { toolName: 'charge', input: { customer: 'cus_2', amountUsd: 149 } },
            { toolName: 'refund', input: { paymentIntent: 'pi_1' } },
          ],
        },
        { text: 'Done.' },
      ]);

      const result = await generateText({
        model,
        tools: withKeybrake(billingTools(stripeFor(billing)), { member: billing }),
        stopWhen: isStepCount(3),
        prompt: 'Charge two customers $149 each and refund pi_1.',
      });

      const transcript = JSON.stringify({
        steps: result.steps,
        messages: result.responseMessages,
        prompts: model.doGenerateCalls.map((call) => call.prompt),
        errors: result.steps.flatMap((step) =>
          step.content.flatMap((part) => (part.type === 'tool-error' ? [String(part.error)] : [])),
        ),
      });
      expect(transcript).toContain('KEYBRAKE_CAP_EXCEEDED');
      expect(transcript).toContain('KEYBRAKE_ENDPOINT_NOT_ALLOWED');
      expect(transcript).not.toContain('kb_test_');
      expect(transcript).not.toContain(billing.key('stripe').vaultKey);
    });
  });
});
