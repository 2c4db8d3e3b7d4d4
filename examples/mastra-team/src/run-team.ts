import {
  type AuditRecord,
  createTwilioHttpClient,
  createVault,
  formatUsd,
  openTeamSession,
  type TeamPlan,
  toMicroUsd,
} from '@keybrake/core';
import { keybrakeDelegation, withKeybrake } from '@keybrake/mastra';
import { createFakeStripe, createFakeTwilio } from '@keybrake/testkit';
import { Agent } from '@mastra/core/agent';
import type { MastraModelConfig } from '@mastra/core/llm';
import Stripe from 'stripe';
import twilio from 'twilio';
import { createBillingTools, createNotificationTools } from './member-tools.js';
import { createScriptedModels } from './scripted-models.js';

/** Real Stripe (test mode) and Twilio credentials; without them the demo uses loopback fakes. */
export interface RealVendors {
  stripeSecretKey: string;
  twilio: { accountSid: string; authToken: string; from: string };
}

/** Options of {@link runBillingTeam}. */
export interface BillingTeamOptions {
  /** Where the transcript goes, one line at a time. @default no output */
  log?: ((line: string) => void) | undefined;
  /** One model for all three agents (e.g. `'openai/gpt-5-mini'`). @default scripted offline models */
  model?: MastraModelConfig | undefined;
  /** Real vendor credentials. @default fake Stripe and Twilio on loopback */
  vendors?: RealVendors | undefined;
}

/** What one member did, from the audit records of the calls it made (with its own or a shared key). */
export interface MemberAudit {
  member: string;
  calls: number;
  allowed: number;
  denied: number;
  /** Settled spend of the member's calls, micro-dollars. */
  spentMicros: number;
  capUsd: number;
}

/** The outcome of a run of the billing team. */
export interface BillingTeamOutcome {
  /** The supervisor's final answer. */
  answer: string;
  /** The `agent-billing` tool result the supervisor's model read. */
  supervisorRead: string;
  members: MemberAudit[];
  session: { calls: number; allowed: number; denied: number; spentMicros: number; capUsd: number };
  /** What the fake upstreams received (offline runs only). */
  fakes?: { charges: number; chargedCents: number; texts: number } | undefined;
  /** Every step of every agent and the supervisor's messages, serialised. */
  transcript: string;
}

const FAKE_STRIPE_SECRET = 'sk_test_51DemoSecretThatStaysInTheVault000';
const FAKE_TWILIO = {
  accountSid: `AC${'5'.repeat(32)}`,
  authToken: 'demo_twilio_auth_token_0000000000',
  from: '+15005550006',
};
const PLACEHOLDER_SID = `AC${'0'.repeat(32)}`;

const plan: TeamPlan = {
  label: 'billing-team/demo',
  capUsd: 200,
  ttl: '1h',
  members: {
    billing: {
      vendor: 'stripe',
      capUsd: 150,
      allowedEndpoints: ['POST /v1/payment_intents', 'GET /v1/payment_intents/*'],
    },
    notifications: { vendor: 'twilio', capUsd: 50, shareKeysOf: ['billing'] },
  },
};

/**
 * Runs the billing team once: a supervisor delegating (Mastra `agents: {}`) to a billing member on
 * Stripe ($150 sub-cap) and a notification member on Twilio ($50, plus billing's key), under a
 * $200 session. Offline by default, with a confused scripted billing model.
 *
 * @example
 * ```ts
 * const outcome = await runBillingTeam({ log: console.log });
 * ```
 */
export async function runBillingTeam(options: BillingTeamOptions = {}): Promise<BillingTeamOutcome> {
  const log = options.log ?? (() => {});
  const fakeStripe = options.vendors ? undefined : await createFakeStripe({ secret: FAKE_STRIPE_SECRET });
  const fakeTwilio = options.vendors
    ? undefined
    : await createFakeTwilio({ accountSid: FAKE_TWILIO.accountSid, secret: FAKE_TWILIO.authToken });
  const twilioAccount = options.vendors?.twilio ?? FAKE_TWILIO;
  const vault = createVault({
    secrets: {
      stripe: options.vendors?.stripeSecretKey ?? FAKE_STRIPE_SECRET,
      twilio: { accountSid: twilioAccount.accountSid, authToken: twilioAccount.authToken },
    },
    ...(fakeStripe && fakeTwilio ? { upstreams: { stripe: fakeStripe.url, twilio: fakeTwilio.url } } : {}),
  });
  const steps: unknown[] = [];
  try {
    const team = await openTeamSession(vault, plan);
    const billing = team.member('billing');
    const notifications = team.member('notifications');
    const billingStripe = new Stripe(billing.key('stripe').vaultKey, {
      httpClient: Stripe.createFetchHttpClient(billing.fetch('stripe')),
      maxNetworkRetries: 2,
    });
    const sharedStripe = new Stripe(notifications.key('stripe').vaultKey, {
      httpClient: Stripe.createFetchHttpClient(notifications.fetch('stripe')),
    });
    const sms = twilio(PLACEHOLDER_SID, notifications.key('twilio').vaultKey, {
      httpClient: createTwilioHttpClient(twilio.RequestClient, { fetch: notifications.fetch('twilio') }),
    });
    try {
      const scripted = createScriptedModels();
      const member = (name: string) => ({
        maxSteps: 8,
        onStepFinish: (step: unknown) => {
          steps.push(step);
          logMemberStep(log, name, step);
        },
      });
      const billingAgent = new Agent({
        id: 'billing',
        name: 'billing',
        description: 'Charges customers with Stripe PaymentIntents.',
        instructions:
          'You bill customers. Use listCustomers to find them and chargeCustomer to charge them, in cents. ' +
          'If a tool error says retrying will not help, stop and report it.',
        model: options.model ?? scripted.billing,
        tools: withKeybrake(createBillingTools(billingStripe), { member: billing }),
        defaultOptions: member('billing'),
      });
      const notificationsAgent = new Agent({
        id: 'notifications',
        name: 'notifications',
        description: 'Texts customers their receipts with Twilio, after checking their payment.',
        instructions:
          'You text receipts. For each payment you are given, checkPayment first, then sendSms to the customer ' +
          'only if it succeeded. Report how many receipts you sent.',
        model: options.model ?? scripted.notifications,
        tools: withKeybrake(createNotificationTools(sharedStripe, sms, twilioAccount.from), { member: notifications }),
        defaultOptions: member('notifications'),
      });
      const supervisor = new Agent({
        id: 'supervisor',
        name: 'supervisor',
        instructions:
          'You run a billing team. Delegate charging to billing and receipts to notifications. ' +
          'If a member was stopped by Keybrake (a KEYBRAKE_ code), do not retry it: report the code, ' +
          'the member and its budget, and what needs a human.',
        model: options.model ?? scripted.supervisor,
        agents: { billing: billingAgent, notifications: notificationsAgent },
      });

      const result = await supervisor.generate('Bill the overdue customers $5.00 and text them their receipts.', {
        maxSteps: 6,
        delegation: keybrakeDelegation({
          onDelegationStart: ({ primitiveId, prompt }) => {
            log(`${pad('supervisor')}→ agent-${primitiveId} "${truncate(prompt, 96)}"`);
          },
        }),
        onStepFinish: (step) => {
          steps.push(step);
          logSupervisorStep(log, step);
        },
      });
      const supervisorRead = findDelegationText(steps, 'agent-billing');

      const audit = await team.audit();
      const members = Object.keys(plan.members).map((name) => auditOf(name, audit.records));
      const session = {
        calls: audit.records.length,
        allowed: audit.records.filter((record) => record.decision === 'allowed').length,
        denied: audit.records.filter((record) => record.decision === 'denied').length,
        spentMicros: (await team.status()).spentMicros,
        capUsd: 200,
      };
      log('');
      log('Audit (by the member that made each call):');
      log(
        `  ${'member'.padEnd(14)}${'calls'.padStart(7)}${'allowed'.padStart(9)}${'denied'.padStart(8)}${'spent'.padStart(11)}${'cap'.padStart(10)}`,
      );
      for (const row of members) log(auditLine(row.member, row));
      log(auditLine('session', session));
      const charges = fakeStripe?.moneyMoved() ?? [];
      const fakes =
        fakeStripe && fakeTwilio
          ? {
              charges: charges.length,
              chargedCents: charges.reduce((sum, charge) => sum + charge.amount, 0),
              texts: fakeTwilio.messages().length,
            }
          : undefined;
      if (fakes) {
        log('');
        log(
          `Fake Stripe received ${fakes.charges} charges (${formatUsd(toMicroUsd(fakes.chargedCents / 100))}); ` +
            `fake Twilio received ${fakes.texts} texts. Denied calls never left the vault.`,
        );
      }
      return {
        answer: result.text,
        supervisorRead,
        members,
        session,
        fakes,
        transcript: JSON.stringify([steps, result.response, result.steps]),
      };
    } finally {
      await team.close();
    }
  } finally {
    await vault.close();
    await fakeStripe?.close();
    await fakeTwilio?.close();
  }
}

// ---- transcript formatting ----

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null;
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const get = (value: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((at, key) => (isObject(at) ? at[key] : undefined), value);
const pad = (name: string) => name.padEnd(15);
const truncate = (text: string, max: number) => {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
};

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return line ? [...lines, line] : lines;
}

function argsOf(toolName: string, args: unknown): string {
  if (toolName === 'chargeCustomer')
    return `${String(get(args, 'customer'))} ${formatUsd(toMicroUsd(Number(get(args, 'amountCents')) / 100))}`;
  if (toolName === 'checkPayment') return String(get(args, 'paymentIntent'));
  if (toolName === 'sendSms') return `to ${String(get(args, 'to'))}`;
  return '';
}

function logMemberStep(log: (line: string) => void, member: string, step: unknown): void {
  const calls = list(get(step, 'toolCalls')).map((call) => ({
    id: String(get(call, 'payload', 'toolCallId')),
    toolName: String(get(call, 'payload', 'toolName')),
    args: get(call, 'payload', 'args'),
  }));
  const results = list(get(step, 'toolResults'));
  const errors = list(get(step, 'content')).filter(
    (part) => get(part, 'type') === 'tool-result' && get(part, 'output', 'type') === 'error-text',
  );
  const names = [...new Set(calls.map((call) => call.toolName))];
  for (const toolName of names) {
    const mine = calls.filter((call) => call.toolName === toolName);
    const ok = results.filter((result) => get(result, 'payload', 'toolName') === toolName);
    const failed = errors
      .filter((error) => get(error, 'toolName') === toolName)
      .map((error) => String(get(error, 'output', 'value')));
    const denied = failed.filter((text) => text.startsWith('KEYBRAKE_'));
    const args = mine.map((call) => argsOf(toolName, call.args)).filter(Boolean);
    const shown = args.length > 2 ? `${args[0]} … ${args.at(-1)}` : args.join(', ');
    const listed = list(get(ok[0], 'payload', 'result', 'customers'));
    const outcome =
      toolName === 'listCustomers' && listed.length > 0
        ? `${listed.length} customers, ${listed.filter((customer) => get(customer, 'overdue') === true).length} overdue`
        : [
            `${ok.length} ok`,
            denied.length > 0 ? `${denied.length} denied by Keybrake` : '',
            failed.length > denied.length ? `${failed.length - denied.length} failed` : '',
          ]
            .filter(Boolean)
            .join(', ');
    log(
      `  ${pad(member)}${toolName}${mine.length > 1 ? ` ×${mine.length}` : ''}  ${shown}${shown ? '  ' : ''}→ ${outcome}`,
    );
    const [first] = denied;
    if (first) {
      const message = first.split('\n')[0] ?? first;
      const [head, ...rest] = wrap(`✋ Keybrake stopped ${member}: ${message}`, 110);
      log(`  ${head}`);
      for (const line of rest) log(`     ${line}`);
    }
  }
  const text = String(get(step, 'text') ?? '').trim();
  if (text) log(`  ${pad(member)}says "${truncate(text, 110)}"`);
}

function logSupervisorStep(log: (line: string) => void, step: unknown): void {
  for (const result of list(get(step, 'toolResults'))) {
    const toolName = String(get(result, 'payload', 'toolName'));
    const text = String(get(result, 'payload', 'result', 'text') ?? '');
    const json = text.includes('KEYBRAKE_') ? text.split('\n').at(-1) : undefined;
    if (json) {
      const denial = JSON.parse(json) as Json;
      const count = /\((tool "[^"]+", \d+ calls? denied)\)/.exec(text)?.[1] ?? '';
      log(
        `${pad('supervisor')}← ${toolName} read ${String(denial.code)} · ${String(denial.label)} · cap ${formatUsd(toMicroUsd(Number(denial.capUsd)))} · spent ${formatUsd(toMicroUsd(Number(denial.spentUsd)))} · ${count}`,
      );
    } else {
      log(`${pad('supervisor')}← ${toolName} "${truncate(text, 100)}"`);
    }
  }
  const text = String(get(step, 'text') ?? '').trim();
  if (text) {
    log('');
    const [head, ...rest] = wrap(`says "${text}"`, 100);
    log(`${pad('supervisor')}${head}`);
    for (const line of rest) log(`${pad('')}${line}`);
  }
}

function findDelegationText(steps: readonly unknown[], toolName: string): string {
  for (const step of steps) {
    for (const result of list(get(step, 'toolResults'))) {
      if (get(result, 'payload', 'toolName') === toolName)
        return String(get(result, 'payload', 'result', 'text') ?? '');
    }
  }
  return '';
}

function auditOf(member: string, records: readonly AuditRecord[]): MemberAudit {
  const mine = records.filter((record) => record.actor?.member === member);
  const capUsd = Number(plan.members[member]?.capUsd ?? 0);
  return {
    member,
    calls: mine.length,
    allowed: mine.filter((record) => record.decision === 'allowed').length,
    denied: mine.filter((record) => record.decision === 'denied').length,
    spentMicros: mine.reduce((sum, record) => sum + record.actualMicros, 0),
    capUsd,
  };
}

function auditLine(name: string, row: Omit<MemberAudit, 'member'>): string {
  const cells = [
    String(row.calls),
    String(row.allowed),
    String(row.denied),
    formatUsd(row.spentMicros),
    formatUsd(toMicroUsd(row.capUsd)),
  ];
  return `  ${name.padEnd(14)}${cells.map((cell, i) => cell.padStart([7, 9, 8, 11, 10][i] ?? 10)).join('')}`;
}
