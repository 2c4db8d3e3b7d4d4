import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateVaultKey } from '@keybrake/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureIo } from '../test-utils/capture-io.js';
import { startAcmeUpstream } from '../test-utils/start-acme-upstream.js';
import { runCli } from './run-cli.js';

describe('runCli', () => {
  describe('when asked for help or the version', () => {
    it('should print them and exit 0; with no command it should print the help to stderr and exit 2', async () => {
      const help = captureIo();
      expect(await runCli({ argv: ['--help'], ...help.io })).toBe(0);
      expect(help.out.stdout).toMatch(/^Usage: keybrake <command>/);
      for (const args of [
        ['serve', '--help'],
        ['keys', '--help'],
        ['keys', 'issue', '-h'],
        ['keys', 'show', '--help'],
      ]) {
        const run = captureIo();
        expect(await runCli({ argv: args, ...run.io })).toBe(0);
        expect(run.out.stdout).toMatch(/^Usage: keybrake /);
      }
      for (const [args, usage] of [
        [['help', 'serve'], /^Usage: keybrake serve/],
        [['help', 'keys', 'issue'], /^Usage: keybrake keys issue/],
        [['help'], /^Usage: keybrake <command>/],
      ] as const) {
        const run = captureIo();
        expect(await runCli({ argv: [...args], ...run.io })).toBe(0);
        expect(run.out.stdout).toMatch(usage);
      }
      const version = captureIo();
      expect(await runCli({ argv: ['--version'], ...version.io })).toBe(0);
      expect(version.out.stdout).toMatch(/^keybrake \d+\.\d+\.\d+/);
      const none = captureIo();
      expect(await runCli({ argv: [], ...none.io })).toBe(2);
      expect(none.out.stderr).toMatch(/^Usage: keybrake/);
    });
  });

  describe('when the command line is wrong', () => {
    it('should exit 2 before calling the server', async () => {
      const cases: Array<[string[], RegExp]> = [
        [['deploy'], /unknown command "deploy"/],
        [['keys', 'rotate'], /unknown command "keys rotate"/],
        [['keys', 'issue', '--max-calls', 'ten'], /--max-calls must be a whole number/],
        [['keys', 'issue', '--metadata', '{'], /--metadata must be a JSON object/],
        [['keys', 'show', 'kbk_1', 'kbk_2'], /unexpected argument "kbk_2"/],
        // A vault key on the command line is never printed back.
        [
          ['keys', 'revoke', 'kbk_1', generateVaultKey('test').vaultKey],
          /unexpected argument "\[redacted vault key\]"/,
        ],
        [['keys', 'show', `--${generateVaultKey('live').vaultKey}`], /Unknown option '--\[redacted vault key\]'/],
        [['audit', '--limit', 'all'], /--limit must be a whole number/],
        [['keys', 'show', 'kbk_1', '--url', 'localhost:8787'], /invalid --url/],
        [['serve', '--price', 'twilio'], /Invalid --price "twilio"/],
        [['serve', '--upstream', 'strpe=http://127.0.0.1:12111'], /upstream was given for unknown vendor "strpe"/],
        [['serve', '--host='], /--host must not be empty/],
        [['serve', '--reservation-ttl', '5s'], /reservationTtl \(5000 ms\) must outlast the longest call/],
        [['serve', '--reservation-ttl', 'soon'], /--reservation-ttl: Invalid duration "soon"/],
        [['serve', '--upstream-timeout', 'forever'], /--upstream-timeout: Invalid duration/],
        [['serve', '--config', '/nonexistent/keybrake.json'], /cannot read the config file/],
        [['serve', '--max-body-bytes', '99999999999999999999'], /--max-body-bytes must be a whole number up to/],
        [['serve', '--port', '99999999999999999999'], /--port must be a whole number up to/],
      ];
      for (const [args, message] of cases) {
        const run = captureIo({ KEYBRAKE_ADMIN_TOKEN: 'admin-token-0123456789' });
        expect(await runCli({ argv: args, ...run.io }), args.join(' ')).toBe(2);
        expect(run.out.stderr).toMatch(message);
      }
    });
  });

  describe('when serve runs with a config file', () => {
    let upstream: Awaited<ReturnType<typeof startAcmeUpstream>>;
    let dir: string;
    beforeAll(async () => {
      upstream = await startAcmeUpstream();
      dir = await mkdtemp(join(tmpdir(), 'keybrake-run-cli-'));
    });
    afterAll(async () => {
      await upstream.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('should print the URL line, serve, and exit 0 when told to stop', async () => {
      const config = join(dir, 'keybrake.json');
      await writeFile(
        config,
        JSON.stringify({
          port: 0,
          secrets: { stripe: 'sk_test_fromTheConfigFile' },
          upstreams: { stripe: upstream.url },
          logLevel: 'silent',
          prices: { twilio: { smsSegmentUsd: '0.0079' } },
          publicMetrics: true,
          reservationTtl: '3m',
        }),
      );
      const run = captureIo({ KEYBRAKE_ADMIN_TOKEN: 'admin-token-0123456789' });
      const exit = runCli({ argv: ['serve', '--config', config], ...run.io });
      await expect
        .poll(() => run.out.stdout, { timeout: 5000 })
        .toMatch(/^Keybrake proxy listening on http:\/\/127\.0\.0\.1:\d+\n$/);
      const url = run.out.stdout.trim().split(' ').at(-1) ?? '';
      const key = await fetch(`${url}/vault/keys`, {
        method: 'POST',
        headers: { authorization: 'Bearer admin-token-0123456789' },
        body: JSON.stringify({ vendor: 'stripe', cap_usd: 1 }),
      }).then((response) => response.json() as Promise<{ vault_key: string }>);
      const read = await fetch(`${url}/stripe/v1/customers/cus_1`, {
        headers: { authorization: `Bearer ${key.vault_key}` },
      });
      expect(read.status).toBe(200);
      expect(upstream.received.at(-1)?.headers.authorization).toBe('Bearer sk_test_fromTheConfigFile');
      expect((await fetch(`${url}/metrics`)).status).toBe(200);

      // A child asked for more than its parent has left: refused, or cut to the parent's expiry when asked.
      const env = { KEYBRAKE_ADMIN_TOKEN: 'admin-token-0123456789', KEYBRAKE_URL: url };
      const root = captureIo(env);
      expect(await runCli({ argv: ['keys', 'issue', '--cap', '5', '--expires-in', '1h', '--json'], ...root.io })).toBe(
        0,
      );
      const rootKey = JSON.parse(root.out.stdout) as { id: string; expires_at: string };
      const child = (...flags: string[]) => {
        const io = captureIo(env);
        const argv = ['keys', 'issue', '--parent', rootKey.id, '--vendor', 'stripe', '--expires-in', '2h', '--json'];
        return runCli({ argv: [...argv, ...flags], ...io.io }).then((exit) => ({ exit, out: io.out }));
      };
      const refused = await child();
      expect(refused.exit).toBe(1);
      expect(refused.out.stderr).toMatch(/cannot outlive its parent/);
      const cut = await child('--expires-with-parent');
      expect(cut.exit).toBe(0);
      expect((JSON.parse(cut.out.stdout) as { expires_at: string }).expires_at).toBe(rootKey.expires_at);
      run.stop();
      expect(await exit).toBe(0);
    });

    it('should refuse to start, exit 1, when the audit file cannot be written', async () => {
      const notADirectory = join(dir, 'plain-file');
      await writeFile(notADirectory, 'x');
      const run = captureIo({ KEYBRAKE_ADMIN_TOKEN: 'admin-token-0123456789' });
      const argv = [
        'serve',
        '--port',
        '0',
        '--log-level',
        'silent',
        '--audit-file',
        join(notADirectory, 'audit.jsonl'),
      ];
      expect(await runCli({ argv, ...run.io })).toBe(1);
      expect(run.out.stderr).toMatch(/^keybrake: cannot write the audit file .*plain-file\/audit\.jsonl: /);
      expect(run.out.stdout).toBe('');
    });
  });
});

describe('runCli, an error answer with control characters', () => {
  it('should print it with them replaced, as the rest of its output', async () => {
    const server = createServer((_request, response) => {
      response.writeHead(400, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          error: { code: 'KEYBRAKE_INVALID_POLICY', message: 'bad \u001b[2J', fields: { 'cap\u001b[1m': 'no\u0007' } },
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const run = captureIo();
      const code = await runCli({
        argv: ['keys', 'issue', '--cap', '5', '--url', `http://127.0.0.1:${port}`],
        ...run.io,
        env: { KEYBRAKE_ADMIN_TOKEN: 'admin-token-0123456789-abcdef' },
      });
      expect(code).toBe(1);
      expect(run.out.stderr).toBe('keybrake: KEYBRAKE_INVALID_POLICY: bad \uFFFD[2J\n  cap\uFFFD[1m: no\uFFFD\n');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
