import {
  type AuditRecord,
  createVault,
  formatUsd,
  openTeamSession,
  type TeamSession,
  type VaultOptions,
} from '@keybrake/core';
import { keybrakeMiddleware, parseKeybrakeDenials } from '@keybrake/langchain';
import { createFakeStripe, createFakeTwilio, type FakeStripe, type FakeTwilio } from '@keybrake/testkit';
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import type { BaseMessage } from '@langchain/core/messages';
import { createSupervisor } from '@langchain/langgraph-supervisor';
import { createAgent, initChatModel } from 'langchain';
import Stripe from 'stripe';
import { createDemoCustomers } from './demo-customers.js';
import { chargeCustomerTool, textCustomerTool } from './member-tools.js';
import { createTranscriptPrinter } from './print-transcript.js';
import { scriptedModels } from './scripted-models.js';

/** Options of {@link runBillingTeam}. */
export interface RunBillingTeamOptions {
  /** Where the transcript goes. @default console.log */
  log?: (line: string) => void;
  /**
   * Credentials. Each vendor whose credentials are present is called for real; the others are
   * faked on loopback. `KEYBRAKE_MODEL` (`openai:gpt-4.1-mini`, …) replaces the scripted models.
   * @default process.env
   */
  env?: Readonly<Record<string, string | undefined>>;
}

/** One member's line of the audit table. */
export interface MemberAudit {
  member: string;
  calls: number;
  allowed: number;
  denied: number;
  /** Spent by this member's calls (through any key it holds), USD. */
  spentUsd: number;
  /** The member's own key: spent against its cap, USD. */
  budgetSpentUsd: number;
  capUsd: number;
}

/** What happened in a run. */
export interface BillingTeamOutcome {
  /** Which parts were real. */
  mode: { model: string; stripe: 'fake' | 'stripe test mode'; twilio: 'fake' | 'twilio' };
  /** Payment intents the Stripe upstream received (fake mode only). */
  chargesReceived?: { customer: string; amountUsd: number }[];
  /** SMS the Twilio upstream received (fake mode only). */
  smsReceived?: number;
  /** Spent by the whole session, USD. */
  sessionSpentUsd: number;
  audit: MemberAudit[];
  /** The Keybrake denials in the supervisor's transcript (what it read from its members). */
  supervisorSaw: { code: string; label: string; capUsd: number; spentUsd: number }[];
  /** The supervisor's final words. */
  finalAnswer: string;
  /** The supervisor graph's whole message history. */
  transcript: BaseMessage[];
}

const PLAN = {
  label: 'billing-team/sess_demo',
  capUsd: 200,
  ttl: '1h',
  members: {
    billing: { vendor: 'stripe', capUsd: 150, allowedEndpoints: ['POST /v1/payment_intents', 'GET /v1/customers/*'] },
    notifications: { vendor: 'twilio', capUsd: 50, shareKeysOf: ['billing'] },
  },
} as const;

const FAKE_STRIPE_SECRET = 'sk_test_51DemoSecretNeverLeavesTheVault';
const FAKE_TWILIO_SID = `AC${'7'.repeat(32)}`;
const FAKE_TWILIO_TOKEN = 'demo_twilio_auth_token';

/**
 * Runs the billing team — a supervisor, a billing member (Stripe, $150) and a notification member
 * (Twilio, $50, plus the billing key), under a $200 session that lives one hour — and returns what
 * happened. Offline by default: scripted models and fake vendors on loopback.
 *
 * @param options - Logging and credentials.
 * @returns The outcome: charges received, ledger, audit per member, what the supervisor read.
 * @throws {Error} if `STRIPE_SECRET_KEY` is a live key (the demo charges 40 customers).
 * @example
 * ```ts
 * const outcome = await runBillingTeam({ log: () => {} });
 * outcome.chargesReceived?.length; // 30
 * ```
 */
export async function runBillingTeam(options: RunBillingTeamOptions = {}): Promise<BillingTeamOutcome> {
  const log = options.log ?? console.log;
  const given = options.env ?? process.env;
  // An empty value (a copied .env.example) counts as unset.
  const env: Readonly<Record<string, string | undefined>> = Object.fromEntries(
    Object.entries(given).filter(([, value]) => value),
  );
  if (env.STRIPE_SECRET_KEY && !/^(sk|rk)_test_/.test(env.STRIPE_SECRET_KEY))
    throw new Error('STRIPE_SECRET_KEY must be a test-mode key: the demo charges 40 customers.');
  const twilioReal = Boolean(env.TWILIO_ACCOUNT_SID && env.TWILIO_AUTH_TOKEN);
  const fakeStripe: FakeStripe | undefined = env.STRIPE_SECRET_KEY
    ? undefined
    : await createFakeStripe({ secret: FAKE_STRIPE_SECRET });
  const fakeTwilio: FakeTwilio | undefined = twilioReal
    ? undefined
    : await createFakeTwilio({ accountSid: FAKE_TWILIO_SID, secret: FAKE_TWILIO_TOKEN });
  const stripeSecret = env.STRIPE_SECRET_KEY ?? FAKE_STRIPE_SECRET;
  const vaultOptions: VaultOptions = {
    secrets: {
      stripe: stripeSecret,
      twilio: twilioReal
        ? { accountSid: env.TWILIO_ACCOUNT_SID ?? '', authToken: env.TWILIO_AUTH_TOKEN ?? '' }
        : { accountSid: FAKE_TWILIO_SID, authToken: FAKE_TWILIO_TOKEN },
    },
    upstreams: { stripe: fakeStripe?.url, twilio: fakeTwilio?.url },
  };
  const vault = createVault(vaultOptions);
  let team: TeamSession | undefined;
  try {
    const admin = new Stripe(
      stripeSecret,
      fakeStripe ? { host: fakeStripe.host, port: fakeStripe.port, protocol: 'http' } : {},
    );
    const customers = await createDemoCustomers(admin, env.DEMO_SMS_TO);
    team = await openTeamSession(vault, PLAN);
    const billing = team.member('billing');
    const notifications = team.member('notifications');

    const scripted = env.KEYBRAKE_MODEL ? undefined : scriptedModels(customers);
    const model = async (agent: keyof NonNullable<typeof scripted>): Promise<BaseChatModel> =>
      scripted?.[agent] ?? (await initChatModel(env.KEYBRAKE_MODEL));
    const billingAgent = createAgent({
      model: await model('billing'),
      name: 'billing',
      description: 'Charges customers with Stripe.',
      systemPrompt: 'You are the billing member of a team. Charge exactly the customers you are told to.',
      tools: [chargeCustomerTool(billing)],
      middleware: [keybrakeMiddleware({ member: billing })],
    });
    const notificationsAgent = createAgent({
      model: await model('notifications'),
      name: 'notifications',
      description: 'Texts customers with Twilio.',
      systemPrompt: 'You are the notification member of a team. Text the customers you are told to.',
      tools: [textCustomerTool(notifications, { from: env.TWILIO_FROM_NUMBER })],
      middleware: [keybrakeMiddleware({ member: notifications })],
    });
    const supervisor = createSupervisor({
      agents: [billingAgent.graph, notificationsAgent.graph],
      llm: await model('supervisor'),
      prompt:
        'You supervise a billing team. Delegate billing, then notifications. If a member reports a KEYBRAKE_ error, do not retry it: say what happened and escalate.',
    }).compile({ name: 'supervisor' });

    const mode: BillingTeamOutcome['mode'] = {
      model: env.KEYBRAKE_MODEL ?? 'scripted (fakeModel)',
      stripe: fakeStripe ? 'fake' : 'stripe test mode',
      twilio: fakeTwilio ? 'fake' : 'twilio',
    };
    log(`Model: ${mode.model}; Stripe: ${mode.stripe}; Twilio: ${mode.twilio}.`);
    log(
      `Team session ${PLAN.label}: $${PLAN.capUsd} cap, ${PLAN.ttl}; billing $150 (Stripe), notifications $50 (Twilio + billing's key).`,
    );
    log('');
    const due = customers.filter((customer) => customer.due);
    const task = `Charge our ${due.length} customers with an invoice due $5 each (${due.map((c) => c.id).join(', ')}), then text them a receipt.`;
    log(`user → supervisor: ${task}`);
    const printer = createTranscriptPrinter(log);
    let transcript: BaseMessage[] = [];
    const stream = await supervisor.stream(
      { messages: [{ role: 'user', content: task }] },
      { streamMode: ['updates', 'values'], subgraphs: true, recursionLimit: 50 },
    );
    for await (const [namespace, mode, chunk] of stream) {
      if (mode === 'values' && namespace.length === 0) transcript = (chunk as { messages: BaseMessage[] }).messages;
      if (mode === 'updates') printer.print(namespace, chunk);
    }
    printer.flush();

    const audit = await auditByMember(team, (await team.audit()).records);
    printAudit(audit, await team.status(), log);
    const supervisorSaw = parseKeybrakeDenials(transcript).map((denial) => {
      const json = denial.toJSON();
      return {
        code: denial.code,
        label: String(json.label),
        capUsd: Number(json.capUsd),
        spentUsd: Number(json.spentUsd),
      };
    });
    log('');
    for (const seen of supervisorSaw)
      log(`The supervisor's transcript shows ${seen.code} for ${seen.label} (cap $${seen.capUsd}).`);
    if (fakeStripe)
      log(
        `Fake Stripe received ${fakeStripe.moneyMoved().length} charges; fake Twilio received ${fakeTwilio?.messages().length ?? 0} SMS.`,
      );
    return {
      mode,
      ...(fakeStripe && {
        chargesReceived: fakeStripe.paymentIntents().map((intent) => ({
          customer: String(intent.customer),
          amountUsd: Number(intent.amount) / 100,
        })),
      }),
      ...(fakeTwilio && { smsReceived: fakeTwilio.messages().length }),
      sessionSpentUsd: (await team.status()).spentUsd,
      audit,
      supervisorSaw,
      finalAnswer: transcript.at(-1)?.text ?? '',
      transcript,
    };
  } finally {
    await team?.close();
    await vault.close();
    await fakeStripe?.close();
    await fakeTwilio?.close();
  }
}

async function auditByMember(team: TeamSession, records: readonly AuditRecord[]): Promise<MemberAudit[]> {
  const rows: MemberAudit[] = [];
  for (const member of Object.values(team.members)) {
    const own = records.filter((record) => record.actor?.member === member.name);
    const status = await member.status();
    const cap = status.caps.find((each) => each.keyId === status.id && each.kind === 'total');
    rows.push({
      member: member.name,
      calls: own.length,
      allowed: own.filter((record) => record.decision === 'allowed').length,
      denied: own.filter((record) => record.decision === 'denied').length,
      spentUsd: own.reduce((sum, record) => sum + record.actualMicros, 0) / 1_000_000,
      budgetSpentUsd: status.spentUsd,
      capUsd: cap?.capUsd ?? 0,
    });
  }
  return rows;
}

function printAudit(
  rows: readonly MemberAudit[],
  session: { spentUsd: number; spentMicros: number },
  log: (line: string) => void,
) {
  const usd = (value: number) => formatUsd(Math.round(value * 1_000_000));
  const table = [
    ['member', 'calls', 'allowed', 'denied', 'spent by its calls', 'own key: spent / cap'],
    ...rows.map((row) => [
      row.member,
      String(row.calls),
      String(row.allowed),
      String(row.denied),
      usd(row.spentUsd),
      `${usd(row.budgetSpentUsd)} / ${usd(row.capUsd)}`,
    ]),
    ['session', '', '', '', '', `${formatUsd(session.spentMicros)} / ${usd(PLAN.capUsd)}`],
  ];
  const widths = table[0]?.map((_, column) => Math.max(...table.map((row) => row[column]?.length ?? 0))) ?? [];
  log('');
  log('Audit (Keybrake ledger, per member):');
  for (const row of table) log(`  ${row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ')}`);
}
