import { CapExceededError, type TeamMember } from '@keybrake/core';
import { generateText, isStepCount, type LanguageModel, ToolLoopAgent, type ToolLoopAgentSettings } from 'ai';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createScriptedModel,
  failsAfter,
  lastToolResults,
  type ModelCall,
} from '../test-utils/create-scripted-model.js';
import { billingTools, openTestTeam, stripeFor } from '../test-utils/open-test-team.js';
import { withKeybrake } from '../tools/with-keybrake.js';
import { memberAsTool } from './member-as-tool.js';

/** A member model that makes `count` parallel charges of `amountUsd`, then reports what it read. */
const chargingModel = (name: string, count: number, amountUsd: number) =>
  createScriptedModel(name, (call, turn) => {
    if (turn === 0) {
      return {
        toolCalls: Array.from({ length: count }, (_, index) => ({
          toolName: 'charge',
          input: { customer: `cus_${name}_${index + 1}`, amountUsd },
        })),
      };
    }
    const results = lastToolResults(call);
    const charged = results.filter((result) => result.output.type === 'json').length;
    return { text: `Charged ${charged} of ${results.length} customers.` };
  });

/** A supervisor model that delegates, then repeats what its tools told it. */
const supervisorModel = (delegations: Array<{ toolName: string; input: { task: string } }>) =>
  createScriptedModel('supervisor', (call: ModelCall, turn) => {
    if (turn === 0) return { toolCalls: delegations };
    const outcomes = lastToolResults(call).map((result) => `${result.toolName}: ${String(result.output.value)}`);
    return { text: `Report. ${outcomes.join(' | ')}` };
  });

/** The billing member as an agent on `model`, with its capped tools (no retries: a failure is final). */
const cappedBillingAgent = (
  billing: TeamMember,
  model: LanguageModel,
  prepareStep?: ToolLoopAgentSettings['prepareStep'],
) =>
  new ToolLoopAgent({
    model,
    tools: withKeybrake(billingTools(stripeFor(billing)), { member: billing }),
    stopWhen: isStepCount(5),
    maxRetries: 0,
    prepareStep,
  });

/** A supervisor that delegates one task to `agent`; what its model read back, and its result. */
const delegateOnce = async (agent: ToolLoopAgent, task: string, toolMs?: number) => {
  const supervisor = supervisorModel([{ toolName: 'delegate_billing', input: { task } }]);
  const result = await generateText({
    model: supervisor,
    tools: { delegate_billing: memberAsTool(agent, { description: 'Charges customers.' }) },
    stopWhen: isStepCount(3),
    ...(toolMs === undefined ? {} : { timeout: { toolMs } }),
    prompt: 'Collect.',
  });
  return { supervisor, result, read: lastToolResults(supervisor.doGenerateCalls[1])[0] };
};

describe('memberAsTool', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  describe('when the member agent is stopped by its cap', () => {
    it("should put the member's cap error, with its label, cap and spend, in the supervisor's transcript", async () => {
      const { team, fakeStripe, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      const billingModel = chargingModel('billing', 4, 40);
      const billingAgent = new ToolLoopAgent({
        model: billingModel,
        instructions: 'You charge customers with Stripe.',
        tools: withKeybrake(billingTools(stripeFor(billing)), { member: billing }),
        stopWhen: isStepCount(5),
      });
      const model = supervisorModel([
        { toolName: 'delegate_billing', input: { task: 'Charge the 4 overdue customers $40 each.' } },
      ]);
      const supervisor = new ToolLoopAgent({
        model,
        instructions: 'You run the billing team.',
        tools: { delegate_billing: memberAsTool(billingAgent, { description: 'Charges customers with Stripe.' }) },
        stopWhen: isStepCount(5),
      });

      const result = await supervisor.generate({ prompt: 'Collect the overdue invoices.' });

      const [delegation] = lastToolResults(model.doGenerateCalls[1]);
      expect(delegation).toMatchObject({ toolName: 'delegate_billing', output: { type: 'error-text' } });
      const [denial, ...rest] = String(delegation?.output.value).split('\n');
      expect(denial).toMatch(/^KEYBRAKE_CAP_EXCEEDED: Keybrake denied this call: .*Retrying will not help/);
      const fields = JSON.parse(rest[0] ?? '') as { spentUsd: number; reservedUsd: number };
      expect(fields).toMatchObject({
        code: 'KEYBRAKE_CAP_EXCEEDED',
        label: 'billing-team/test/billing',
        capUsd: 150,
        attemptedUsd: 40,
      });
      // The four charges ran in parallel: the first three were spent or still in flight.
      expect(fields.spentUsd + fields.reservedUsd).toBe(120);
      expect(rest[1]).toBe("The member's last report: Charged 3 of 4 customers.");
      expect(result.text).toContain('delegate_billing: KEYBRAKE_CAP_EXCEEDED');
      const toolError = result.steps[0]?.content.find((part) => part.type === 'tool-error');
      expect(toolError?.type === 'tool-error' && toolError.error).toBeInstanceOf(CapExceededError);

      expect(fakeStripe.moneyMoved().map((movement) => movement.amount)).toEqual([4000, 4000, 4000]);
      expect(await team.status()).toMatchObject({ spentUsd: 120 });
      const { totals } = await team.audit();
      expect(totals).toEqual([
        expect.objectContaining({
          label: 'billing-team/test/billing',
          allowed: 3,
          denied: 1,
          spentMicros: 120_000_000,
        }),
      ]);
      const transcripts = JSON.stringify([
        result.steps,
        result.responseMessages,
        model.doGenerateCalls.map((call) => call.prompt),
        billingModel.doGenerateCalls.map((call) => call.prompt),
      ]);
      expect(transcripts).not.toContain('kb_test_');
    });
  });

  describe('when the member finishes within its cap', () => {
    it("should return the member's final text to the supervisor", async () => {
      const { team, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      const model = supervisorModel([{ toolName: 'delegate_billing', input: { task: 'Charge 2 customers $5.' } }]);

      await generateText({
        model,
        tools: {
          delegate_billing: memberAsTool(
            (task, { abortSignal }) =>
              generateText({
                model: chargingModel('billing', 2, 5),
                tools: withKeybrake(billingTools(stripeFor(billing)), { member: billing }),
                stopWhen: isStepCount(5),
                prompt: task,
                abortSignal,
              }),
            { description: 'Charges customers with Stripe.' },
          ),
        },
        stopWhen: isStepCount(3),
        prompt: 'Collect.',
      });

      expect(lastToolResults(model.doGenerateCalls[1])[0]?.output).toEqual({
        type: 'text',
        value: 'Charged 2 of 2 customers.',
      });
    });
  });

  describe("when the member's run fails after it was denied", () => {
    it('should still give the supervisor the denial, from an agent and from a function', async () => {
      const { team, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      /** Charges $500 (past the member's cap), then its provider fails. */
      const failingModel = () => failsAfter(chargingModel('billing', 1, 500), 1);
      const tools = withKeybrake(billingTools(stripeFor(billing)), { member: billing });
      const agent = cappedBillingAgent(billing, failingModel());
      const model = supervisorModel([
        { toolName: 'delegate_agent', input: { task: 'Charge cus_1 $500.' } },
        { toolName: 'delegate_function', input: { task: 'Charge cus_2 $500.' } },
      ]);

      await generateText({
        model,
        tools: {
          delegate_agent: memberAsTool(agent, { description: 'Charges customers.' }),
          delegate_function: memberAsTool(
            (task, options) =>
              generateText({
                model: failingModel(),
                tools,
                stopWhen: isStepCount(5),
                maxRetries: 0,
                prompt: task,
                ...options,
              }),
            { description: 'Charges customers.' },
          ),
        },
        stopWhen: isStepCount(3),
        prompt: 'Collect.',
      });

      const read = lastToolResults(model.doGenerateCalls[1]);
      expect(read.map((result) => result.output.type)).toEqual(['error-text', 'error-text']);
      for (const result of read) {
        expect(result.output.value).toMatch(/^KEYBRAKE_CAP_EXCEEDED: /);
        expect(result.output.value).toContain("The member's run then failed: the model provider is overloaded");
      }
    });
  });

  describe('when the member went on after a denial and its run then failed', () => {
    it("should give the supervisor the run's error with the denial as a note, not a stop", async () => {
      const { team, fakeStripe, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      // $500 (denied), then $5 (charged) in the next step, then the provider fails.
      const scripted = createScriptedModel('billing', [
        { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 500 } }] },
        { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 5 } }] },
      ]);

      const { read } = await delegateOnce(cappedBillingAgent(billing, failsAfter(scripted, 2)), 'Charge cus_1.');

      expect(read?.output.type).toBe('error-text');
      expect(read?.output.value).toMatch(
        /^Error: the model provider is overloaded\n\nKeybrake denied a call of this member/,
      );
      expect(read?.output.value).toContain('the member went on afterwards');
      expect(fakeStripe.moneyMoved()).toHaveLength(1);
    });
  });

  describe('when the delegation is cut short or the member trims its context', () => {
    it("should still report the denial when only the delegation timed out (the supervisor's run goes on)", async () => {
      const { team, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      // $500 (denied), then the member's model hangs until its abort signal fires.
      const scripted = createScriptedModel('billing', [
        { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 500 } }] },
      ]);

      const agent = cappedBillingAgent(billing, failsAfter(scripted, 1, true));
      const { supervisor, result, read } = await delegateOnce(agent, 'Charge cus_1 $500.', 300);

      // The supervisor's run went on: its model read the delegation's outcome.
      expect(supervisor.doGenerateCalls).toHaveLength(2);
      expect(read?.output.type).toBe('error-text');
      expect(result.text).toContain('delegate_billing');
      expect(read?.output.value).toMatch(/KEYBRAKE_CAP_EXCEEDED/);
    });

    it('should tell a member that went on from one that stopped when prepareStep trims its messages', async () => {
      const { team, fakeStripe, close: closeTeam } = await openTestTeam();
      close = closeTeam;
      const billing = team.member('billing');
      // $5 (charged), $500 (denied), $5 (charged) in three steps, then the provider fails.
      const scripted = createScriptedModel('billing', [
        { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 5 } }] },
        { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_1', amountUsd: 500 } }] },
        { toolCalls: [{ toolName: 'charge', input: { customer: 'cus_2', amountUsd: 5 } }] },
      ]);
      // A common context-window pattern: the first message (the task) and the last two.
      const agent = cappedBillingAgent(billing, failsAfter(scripted, 3), ({ messages }) => ({
        messages: messages.length > 3 ? [messages[0] as (typeof messages)[number], ...messages.slice(-2)] : messages,
      }));
      const { read } = await delegateOnce(agent, 'Charge cus_1.');

      expect(fakeStripe.moneyMoved()).toHaveLength(2); // it did go on and charge cus_2
      expect(read?.output.value).toMatch(
        /^Error: the model provider is overloaded\n\nKeybrake denied a call of this member/,
      );
      expect(read?.output.value).toContain('the member went on afterwards');
    });
  });

  describe('when two members charge concurrently under one session cap', () => {
    it('should never spend more than the session cap and tell the supervisor which budget stopped them', async () => {
      const {
        team,
        fakeStripe,
        close: closeTeam,
      } = await openTestTeam({
        east: { vendor: 'stripe', capUsd: 150 },
        west: { vendor: 'stripe', capUsd: 150 },
      });
      close = closeTeam;
      const memberTool = (name: 'east' | 'west') => {
        const member = team.member(name);
        const agent = new ToolLoopAgent({
          model: chargingModel(name, 25, 5),
          tools: withKeybrake(billingTools(stripeFor(member)), { member }),
          stopWhen: isStepCount(5),
        });
        return memberAsTool(agent, { description: `Charges the ${name} region.` });
      };
      const model = supervisorModel([
        { toolName: 'delegate_east', input: { task: 'Charge 25 customers $5.' } },
        { toolName: 'delegate_west', input: { task: 'Charge 25 customers $5.' } },
      ]);
      const supervisor = new ToolLoopAgent({
        model,
        tools: { delegate_east: memberTool('east'), delegate_west: memberTool('west') },
        stopWhen: isStepCount(3),
      });

      await supervisor.generate({ prompt: 'Charge both regions.' });

      const moved = fakeStripe.moneyMoved();
      expect(moved).toHaveLength(40);
      expect(moved.reduce((sum, movement) => sum + movement.amount, 0)).toBe(20_000);
      expect(await team.status()).toMatchObject({ spentUsd: 200, remainingUsd: 0 });
      const { totals, records } = await team.audit();
      expect(records.every((record) => record.label === `billing-team/test/${record.actor?.member}`)).toBe(true);
      expect(new Set(records.map((record) => record.actor?.toolCallId)).size).toBe(50);
      expect(totals.reduce((sum, total) => sum + total.allowed, 0)).toBe(40);
      expect(totals.reduce((sum, total) => sum + total.denied, 0)).toBe(10);
      expect(totals.every((total) => total.spentMicros <= 150_000_000)).toBe(true);
      const stopped = lastToolResults(model.doGenerateCalls[1]).filter((result) => result.output.type === 'error-text');
      expect(stopped.length).toBeGreaterThan(0);
      for (const result of stopped) {
        expect(result.output.value).toMatch(/^KEYBRAKE_CAP_EXCEEDED: .*"limitingLabel":"billing-team\/test"/s);
      }
    });
  });
});
