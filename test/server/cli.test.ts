// The `keybrake` bin as a user runs it: `serve` in a child process, then `keys` and `audit` against it.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WireIssuedKey } from '@keybrake/server';
import { createFakeStripe, createFakeTwilio } from '@keybrake/testkit';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = 'packages/server/src/cli.ts';
const NODE_ARGS = ['--conditions=@keybrake/source', '--import', 'tsx', CLI];
const ADMIN_TOKEN = 'cli-admin-token-0123456789abcdef';
const STRIPE_SECRET = 'sk_test_51CliServeKeepsThisSecret0123456789';
const TWILIO_SID = `AC${'3'.repeat(32)}`;
const TWILIO_TOKEN = 'cli_twilio_auth_token_0123456789';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of every run: no inherited Keybrake or vendor settings. */
function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
  return env;
}

/** Runs `keybrake <args>` to completion from the repository root. */
function keybrake(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...NODE_ARGS, ...args], { cwd: REPO_ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('runCli', () => {
  let fakeStripe: Awaited<ReturnType<typeof createFakeStripe>>;
  let fakeTwilio: Awaited<ReturnType<typeof createFakeTwilio>>;
  let dir: string;
  let server: ChildProcess;
  let serverStderr = '';
  let serverExit: Promise<number | null>;
  let url: string;
  let clientEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    [fakeStripe, fakeTwilio] = await Promise.all([
      createFakeStripe({ secret: STRIPE_SECRET }),
      createFakeTwilio({ accountSid: TWILIO_SID, secret: TWILIO_TOKEN, pricePerSegment: '0.75' }),
    ]);
    dir = await mkdtemp(join(tmpdir(), 'keybrake-cli-'));
    server = spawn(
      process.execPath,
      [
        ...NODE_ARGS,
        'serve',
        '--port',
        '0',
        '--upstream',
        `stripe=${fakeStripe.url}`,
        '--upstream',
        `twilio=${fakeTwilio.url}`,
        '--fx',
        'jpy=0.0067,eur=1.08',
        '--price',
        'twilio.smsSegmentUsd=0.75',
        '--audit-file',
        join(dir, 'audit.jsonl'),
      ],
      {
        cwd: REPO_ROOT,
        env: baseEnv({
          KEYBRAKE_ADMIN_TOKEN: ADMIN_TOKEN,
          STRIPE_SECRET_KEY: STRIPE_SECRET,
          TWILIO_ACCOUNT_SID: TWILIO_SID,
          TWILIO_AUTH_TOKEN: TWILIO_TOKEN,
        }),
      },
    );
    server.stderr?.on('data', (chunk: Buffer) => (serverStderr += chunk.toString('utf8')));
    serverExit = new Promise((resolve) => server.on('exit', (code) => resolve(code)));
    url = await new Promise<string>((resolve, reject) => {
      let stdout = '';
      server.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
        const match = /^Keybrake proxy listening on (http:\/\/127\.0\.0\.1:\d+)$/m.exec(stdout);
        if (match?.[1]) resolve(match[1]);
      });
      server.on('exit', (code) => reject(new Error(`keybrake serve exited with ${code}: ${serverStderr}`)));
    });
    clientEnv = baseEnv({ KEYBRAKE_URL: url, KEYBRAKE_ADMIN_TOKEN: ADMIN_TOKEN });
  });
  afterAll(async () => {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    await Promise.all([fakeStripe?.close(), fakeTwilio?.close()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('when `keybrake serve` runs as a process and an operator issues keys, agents spend, and the operator audits and revokes', () => {
    it('should print the keys, their spend against caps and the audit table, and exit 0', async () => {
      const sessionRun = await keybrake(
        ['keys', 'issue', '--cap', '200', '--expires-in', '1h', '--label', 'billing-team/sess_42', '--json'],
        clientEnv,
      );
      expect(sessionRun).toMatchObject({ code: 0, stderr: '' });
      const session = JSON.parse(sessionRun.stdout) as WireIssuedKey;
      expect(session).toMatchObject({
        id: expect.stringMatching(/^kbk_/),
        vendor: null,
        label: 'billing-team/sess_42',
      });

      const [billingRun, notificationsRun] = await Promise.all([
        keybrake(
          [
            'keys',
            'issue',
            '--parent',
            session.id,
            '--vendor',
            'stripe',
            '--cap',
            '150',
            '--allow',
            'POST /v1/payment_intents',
            '--allow',
            'GET /v1/customers/*',
            '--label',
            'billing-team/sess_42/billing',
          ],
          clientEnv,
        ),
        keybrake(
          [
            'keys',
            'issue',
            '--parent',
            session.id,
            '--vendor',
            'twilio',
            '--cap',
            '50',
            '--label',
            'billing-team/sess_42/notifications',
            '--json',
          ],
          clientEnv,
        ),
      ]);
      expect(billingRun.code).toBe(0);
      expect(billingRun.stdout).toMatch(/^Issued kbk_\w+\n/);
      expect(billingRun.stdout).toContain('The vault key is shown only once');
      const billingId = /^Issued (kbk_\w+)$/m.exec(billingRun.stdout)?.[1] ?? '';
      const billingKey = /vault key\s+(kb_test_\w+)$/m.exec(billingRun.stdout)?.[1] ?? '';
      expect(billingKey).toMatch(/^kb_test_/);
      const notifications = JSON.parse(notificationsRun.stdout) as WireIssuedKey;

      const stripe = new Stripe(billingKey, {
        host: '127.0.0.1',
        port: new URL(url).port,
        protocol: 'http',
        maxNetworkRetries: 2,
      });
      const results = await Promise.allSettled(
        Array.from({ length: 32 }, () =>
          stripe.paymentIntents.create({ amount: 500, currency: 'usd', confirm: true, payment_method: 'pm_card_visa' }),
        ),
      );
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(30);
      const sms = await fetch(`${url}/twilio/2010-04-01/Accounts/ACx/Messages.json`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`ACx:${notifications.vault_key}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ To: '+15005550006', From: '+15005550001', Body: 'Paid.' }),
      });
      expect(sms.status).toBe(201);

      const show = await keybrake(['keys', 'show', billingId], clientEnv);
      expect(show.code).toBe(0);
      expect(show.stdout).toMatch(new RegExp(`^${billingId}  billing-team/sess_42/billing  \\(stripe\\)$`, 'm'));
      expect(show.stdout).toMatch(/^ {2}spent +\$150\.00 {2}\(in flight \$0\.00, remaining \$0\.00\)$/m);
      expect(show.stdout).toMatch(/total {2}billing-team\/sess_42\/billing {2}\$150\.00 \/ \$150\.00 {2}█{20}$/m);
      expect(show.stdout).toMatch(/total {2}billing-team\/sess_42 +\$150\.75 \/ \$200\.00 {2}█{15}░{5}$/m);

      const audit = await keybrake(['audit', '--root', session.id], clientEnv);
      expect(audit.code).toBe(0);
      expect(audit.stdout).toContain(`Session billing-team/sess_42  (${session.id})`);
      expect(audit.stdout).toMatch(/^ {2}session +\$150\.75 \/ \$200\.00 {2}█{15}░{5}$/m);
      expect(audit.stdout).toMatch(/^ {2}billing +\$150\.00 \/ \$150\.00 {2}█{20} {2}stripe {2}30 allowed, 2 denied$/m);
      expect(audit.stdout).toMatch(/^ {2}notifications +\$0\.75 \/ \$50\.00 {2}░{20} {2}twilio {2}1 allowed$/m);
      expect(audit.stdout).toContain('Recent calls (newest first)');
      expect(audit.stdout).toMatch(/POST \/v1\/payment_intents +denied KEYBRAKE_CAP_EXCEEDED +\$0\.00$/m);

      // A leaked member key can be revoked by the vault key itself.
      const leaked = JSON.parse(
        (
          await keybrake(
            ['keys', 'issue', '--parent', session.id, '--vendor', 'stripe', '--cap', '1', '--json'],
            clientEnv,
          )
        ).stdout,
      ) as WireIssuedKey;
      const byVaultKey = await keybrake(['keys', 'revoke', leaked.vault_key], clientEnv);
      expect(byVaultKey).toMatchObject({ code: 0, stdout: `Revoked 1 key: ${leaked.id}\n` });

      const revoke = await keybrake(['keys', 'revoke', session.id], clientEnv);
      expect(revoke).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Revoked 4 keys: kbk_/) });
      const denied = await stripe.customers.retrieve('cus_1').catch((error: unknown) => error);
      expect(denied).toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
      expect(denied).toMatchObject({ code: 'KEYBRAKE_KEY_REVOKED' });
    });
  });

  describe('when a `keybrake` command fails', () => {
    it('should exit 1 for an error from the server and 2 for a usage error, with a clear message', async () => {
      const [unknown, invalid, badFlag, noId, noToken, unreachable, help] = await Promise.all([
        keybrake(['keys', 'show', 'kbk_doesnotexist0000'], clientEnv),
        keybrake(['keys', 'issue', '--vendor', 'stripe', '--cap', 'lots'], clientEnv),
        keybrake(['keys', 'issue', '--capp', '5'], clientEnv),
        keybrake(['keys', 'show'], clientEnv),
        keybrake(['audit'], baseEnv({ KEYBRAKE_URL: url })),
        keybrake(['audit', '--url', 'http://127.0.0.1:9'], clientEnv),
        keybrake(['audit', '--help'], clientEnv),
      ]);
      expect(unknown).toMatchObject({ code: 1, stderr: expect.stringContaining('KEYBRAKE_NOT_FOUND') });
      expect(invalid.code).toBe(1);
      expect(invalid.stderr).toMatch(/KEYBRAKE_INVALID_POLICY/);
      expect(invalid.stderr).toMatch(/^ {2}cap_usd: Invalid USD amount "lots"/m);
      expect(badFlag).toMatchObject({ code: 2, stderr: expect.stringContaining("Unknown option '--capp'") });
      expect(badFlag.stderr).toContain('keybrake keys issue --help');
      expect(noId).toMatchObject({ code: 2, stderr: expect.stringContaining('needs a key id') });
      expect(noToken).toMatchObject({ code: 2, stderr: expect.stringContaining('KEYBRAKE_ADMIN_TOKEN is not set') });
      expect(unreachable).toMatchObject({
        code: 1,
        stderr: expect.stringContaining('Could not reach the Keybrake proxy'),
      });
      expect(help).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: keybrake audit/) });
    });

    it('should refuse to serve without an admin token', async () => {
      const run = await keybrake(['serve', '--port', '0'], baseEnv({ STRIPE_SECRET_KEY: STRIPE_SECRET }));
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(
        'KEYBRAKE_ADMIN_TOKEN is not set: the proxy refuses to start without an admin token',
      );
      expect(run.stdout).toBe('');
    });
  });

  describe('when `keybrake serve` gets SIGTERM', () => {
    it('should exit 0 after flushing the audit log, having logged no secret or vault key', async () => {
      server.kill('SIGTERM');
      expect(await serverExit).toBe(0);
      const lines = (await readFile(join(dir, 'audit.jsonl'), 'utf8')).trim().split('\n');
      expect(lines.length).toBeGreaterThanOrEqual(34);
      expect(serverStderr).toContain('"msg":"shutting down"');
      for (const secret of [STRIPE_SECRET, TWILIO_TOKEN, ADMIN_TOKEN]) expect(serverStderr).not.toContain(secret);
      expect(serverStderr).not.toMatch(/kb_(test|live)_/);
    });
  });
});
