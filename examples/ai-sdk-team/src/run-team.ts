import { memberAsTool, withKeybrake } from '@keybrake/ai-sdk';
import { createVault, openTeamSession, type Vault } from '@keybrake/core';
import { createFakeStripe, createFakeTwilio, type FakeStripe, type FakeTwilio } from '@keybrake/testkit';
import { isStepCount, type LanguageModel, type StepResult, ToolLoopAgent, type ToolSet } from 'ai';
import { createBillingTools, createNotificationTools } from './create-member-tools.js';
import { createScriptedModels } from './create-scripted-models.js';
import { formatAuditTable, formatDelegation, formatStep, type MemberAudit, wrap } from './format-transcript.js';

/** Real vendor credentials (test mode). Without them the team runs against loopback fakes. */
export interface RealVendors {
  /** A Stripe test-mode secret key, `sk_test_…`. */
  stripeSecretKey: string;
  /** Twilio credentials (use the test credentials: nothing is sent) and the sending number. */
  twilio: { accountSid: string; authToken: string; from: string };
}

/** Options of {@link runBillingTeam}. */
export interface BillingTeamOptions {
  /** Receives each line of the transcript. @default no output */
  log?: ((line: string) => void) | undefined;
  /** The agents' models. @default the scripted models of {@link createScriptedModels} */
  models?: { supervisor: LanguageModel; billing: LanguageModel; notifications: LanguageModel } | undefined;
  /** Real vendor credentials. @default loopback fakes from `@keybrake/testkit` */
  vendors?: RealVendors | undefined;
}

/** What a run of the billing team did. */
export interface BillingTeamOutcome {
  /** The supervisor's final answer. */
  supervisorText: string;
  /** What the supervisor's model read back from each delegation: the tool result's output. */
  delegations: Array<{ toolName: string; type: string; value: string }>;
  /** Audit totals per member (by the member that made each call). */
  members: MemberAudit[];
  session: { spentUsd: number; capUsd: number };
  /** What the fake upstreams received (offline runs only). */
  upstream?: { chargesCents: number[]; textsSent: number } | undefined;
  /** Every step and message of every agent, serialised: it must never hold a vault key. */
  transcript: string;
}

const SESSION = { label: 'billing-team/demo', capUsd: 200, ttl: '1h' } as const;
const CAPS = { billing: 150, notifications: 50 } as const;
const FAKE_STRIPE_SECRET = 'sk_test_51DemoSecretHeldOnlyByTheVault';
const FAKE_TWILIO = { accountSid: `AC${'d'.repeat(32)}`, authToken: 'demo_auth_token_held_by_the_vault' };

interface Vendors {
  vault: Vault;
  from: string;
  fakes?: { stripe: FakeStripe; twilio: FakeTwilio };
}

async function openVendors(real: RealVendors | undefined): Promise<Vendors> {
  if (real) {
    const vault = createVault({
      secrets: {
        stripe: real.stripeSecretKey,
        twilio: { accountSid: real.twilio.accountSid, authToken: real.twilio.authToken },
      },
    });
    return { vault, from: real.twilio.from };
  }
  const stripe = await createFakeStripe({ secret: FAKE_STRIPE_SECRET });
  const twilio = await createFakeTwilio({ accountSid: FAKE_TWILIO.accountSid, secret: FAKE_TWILIO.authToken });
  const vault = createVault({
    secrets: { stripe: FAKE_STRIPE_SECRET, twilio: FAKE_TWILIO },
    upstreams: { stripe: stripe.url, twilio: twilio.url },
  });
  return { vault, from: '+15005550006', fakes: { stripe, twilio } };
}

/**
 * Runs the billing team: a supervisor delegating to a billing member (Stripe PaymentIntents, $150
 * sub-cap) and a notification member (Twilio SMS, $50, plus the billing member's shared Stripe key
 * to check payments), under a $200 session cap with a 1 h TTL. Offline by default: scripted models
 * against fake Stripe and Twilio on loopback, with a billing member that charges all 40 customers
 * instead of the 4 overdue ones until Keybrake stops it.
 *
 * @param options - Where to print, which models, which vendors.
 * @returns What happened: the supervisor's answer, what it read from each delegation, the audit.
 * @example
 * ```ts
 * const outcome = await runBillingTeam({ log: console.log });
 * outcome.members; // [{ member: 'billing', calls: 40, allowed: 30, denied: 10, spentUsd: 150, capUsd: 150 }, …]
 * ```
 */
export async function runBillingTeam(options: BillingTeamOptions = {}): Promise<BillingTeamOutcome> {
  const log = options.log ?? (() => {});
  const models = options.models ?? createScriptedModels();
  const { vault, from, fakes } = await openVendors(options.vendors);
  const steps: Array<StepResult<ToolSet>> = [];
  try {
    const team = await openTeamSession(vault, {
      ...SESSION,
      members: {
        billing: {
          vendor: 'stripe',
          capUsd: CAPS.billing,
          allowedEndpoints: ['POST /v1/payment_intents', 'GET /v1/payment_intents/*'],
        },
        notifications: { vendor: 'twilio', capUsd: CAPS.notifications, shareKeysOf: ['billing'] },
      },
    });
    log(`Session ${team.label}: cap $${SESSION.capUsd}, ${SESSION.ttl} TTL`);
    log(`  billing        $${CAPS.billing} sub-cap  stripe: POST /v1/payment_intents, GET /v1/payment_intents/*`);
    log(`  notifications  $${CAPS.notifications} sub-cap   twilio, plus billing's stripe key (shared)`);
    log('');

    const onStepEnd = (member: string) => (step: StepResult<ToolSet>) => {
      steps.push(step);
      for (const line of formatStep(member, step)) log(line);
    };
    const billing = team.member('billing');
    const notifications = team.member('notifications');
    const billingAgent = new ToolLoopAgent({
      model: models.billing,
      instructions: 'You are the billing member of a team. Charge customers with Stripe exactly as asked.',
      tools: withKeybrake(createBillingTools(billing), { member: billing }),
      stopWhen: isStepCount(8),
      onStepEnd: onStepEnd('billing'),
    });
    const notificationAgent = new ToolLoopAgent({
      model: models.notifications,
      instructions: 'You text customers their payment receipts with Twilio, after checking each payment in Stripe.',
      tools: withKeybrake(createNotificationTools(notifications, from), { member: notifications }),
      stopWhen: isStepCount(6),
      onStepEnd: onStepEnd('notifications'),
    });
    const supervisor = new ToolLoopAgent({
      model: models.supervisor,
      instructions:
        'You run a billing team. Delegate charging to billing and receipts to notifications. ' +
        'If a member is stopped by Keybrake, do not retry: report the stop and escalate to a human.',
      tools: {
        delegate_billing: memberAsTool(billingAgent, {
          description: 'The billing member: lists customers and charges them with Stripe.',
        }),
        delegate_notifications: memberAsTool(notificationAgent, {
          description: 'The notification member: checks payments in Stripe and texts receipts with Twilio.',
        }),
      },
      stopWhen: isStepCount(6),
      onToolExecutionStart: ({ toolCall }) => log(formatDelegation(toolCall.toolName, toolCall.input)),
      onToolExecutionEnd: ({ toolCall, toolOutput }) =>
        log(
          formatDelegation(
            toolCall.toolName,
            toolCall.input,
            toolOutput.type === 'tool-error' ? { error: toolOutput.error } : { output: toolOutput.output },
          ),
        ),
      onStepEnd: (step) => {
        steps.push(step);
      },
    });

    const result = await supervisor.generate({
      prompt: "Collect this week's overdue invoices: charge each overdue customer $5.00, then text each a receipt.",
    });
    log('');
    for (const line of wrap(`supervisor     says: "${result.text}"`, 110, '                    ')) log(line);

    const delegations = result.responseMessages.flatMap((message) =>
      message.role === 'tool'
        ? message.content.flatMap((part) =>
            part.type === 'tool-result'
              ? [
                  {
                    toolName: part.toolName,
                    type: part.output.type,
                    value: 'value' in part.output ? String(part.output.value) : '',
                  },
                ]
              : [],
          )
        : [],
    );
    const { records } = await team.audit();
    const members: MemberAudit[] = Object.entries(CAPS).map(([member, capUsd]) => {
      const own = records.filter((record) => record.actor?.member === member);
      return {
        member,
        calls: own.length,
        allowed: own.filter((record) => record.decision === 'allowed').length,
        denied: own.filter((record) => record.decision === 'denied').length,
        spentUsd: own.reduce((sum, record) => sum + record.actualMicros, 0) / 1e6,
        capUsd,
      };
    });
    const session = { spentUsd: (await team.status()).spentUsd, capUsd: SESSION.capUsd };
    await team.close();

    log('');
    log('Audit (by the member that made each call):');
    for (const line of formatAuditTable(members, session)) log(line);
    const upstream = fakes && {
      chargesCents: fakes.stripe.moneyMoved().map((movement) => movement.amount),
      textsSent: fakes.twilio.messages().length,
    };
    if (upstream) {
      const total = upstream.chargesCents.reduce((sum, cents) => sum + cents, 0) / 100;
      log('');
      log(
        `Fake Stripe received ${upstream.chargesCents.length} charges ($${total.toFixed(2)}); ` +
          `fake Twilio received ${upstream.textsSent} texts. Denied calls never left the vault.`,
      );
    }
    return {
      supervisorText: result.text,
      delegations,
      members,
      session,
      upstream,
      transcript: JSON.stringify({ steps, messages: result.responseMessages }),
    };
  } finally {
    await vault.close();
    await fakes?.stripe.close();
    await fakes?.twilio.close();
  }
}
