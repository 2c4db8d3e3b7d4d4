// The admin API and the CLI on input built to break them: deep or prototype-named fields,
// odd times, tokens no one could present, labels that drive a terminal, a server that is not ours.
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { createVault, type Vault } from '@keybrake/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminClient } from '../cli/create-admin-client.js';
import { runCli } from '../cli/run-cli.js';
import { resolveServeConfig } from '../config/resolve-serve-config.js';
import { createProxyLogger } from '../logging/create-proxy-logger.js';
import { captureIo } from '../test-utils/capture-io.js';
import { ACME_SECRET, createAcmeVendor, startAcmeUpstream } from '../test-utils/start-acme-upstream.js';
import { parseAuditQuery } from '../wire/parse-audit-query.js';
import { createProxyServer, type ProxyServer } from './create-proxy-server.js';

const ADMIN_TOKEN = 'admin-token-0123456789-abcdef';

describe('the admin API and the CLI on hostile input', () => {
  let upstream: Awaited<ReturnType<typeof startAcmeUpstream>>;
  let vault: Vault;
  let proxy: ProxyServer;
  let url: string;
  const logLines: string[] = [];
  beforeAll(async () => {
    upstream = await startAcmeUpstream();
    vault = createVault({ vendors: { acme: createAcmeVendor(upstream.url) }, secrets: { acme: ACME_SECRET } });
    // A vault whose status read of one key fails unexpectedly, to see what the admin log says of a 500.
    const getKeyStatus = (id: string) =>
      id === 'kbk_0000000000000000' ? Promise.reject(new Error('boom')) : vault.getKeyStatus(id);
    proxy = createProxyServer({
      vault: new Proxy(vault, {
        get: (target, name) => (name === 'getKeyStatus' ? getKeyStatus : Reflect.get(target, name)),
      }),
      adminToken: ADMIN_TOKEN,
      logger: createProxyLogger({ destination: { write: (line: string) => void logLines.push(line) } }),
    });
    url = await proxy.listen({ port: 0 });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });

  const post = (body: string) =>
    fetch(`${url}/vault/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body,
    });
  const errorOf = async (response: Response) =>
    ((await response.json()) as { error: { message: string; fields?: Record<string, string> } }).error;

  it('should refuse metadata nested too deep or with a __proto__ key with a 400, storing nothing', async () => {
    const nested = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
    for (const depth of [40, 3000, 8000]) {
      const answer = await post(`{"vendor":"acme","cap_usd":10,"metadata":{"d":${nested(depth)}}}`);
      expect(answer.status).toBe(400);
      expect((await errorOf(answer)).message).toMatch(/metadata nests deeper than 32 levels/);
    }
    const proto = await post('{"vendor":"acme","cap_usd":1,"metadata":{"__proto__":{"x":1},"a":1}}');
    expect(proto.status).toBe(400);
    expect((await errorOf(proto)).message).toMatch(/may not have a "__proto__" key/);
    expect((await post(`{"vendor":"acme","cap_usd":1,"metadata":{"d":${nested(30)}}}`)).status).toBe(201);
  });

  it('should name an unknown field or parameter even when it is called like an Object.prototype member', async () => {
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__']) {
      const answer = await post(`{"cap_usd":1,"${name}":{}}`);
      expect(answer.status).toBe(400);
      expect((await errorOf(answer)).fields).toEqual({ [name]: 'is not a known field' });
    }
    expect(parseAuditQuery(new URLSearchParams('__proto__=x'))).toEqual({
      ok: false,
      fields: JSON.parse('{"__proto__":"is not a known field"}'),
    });
    expect(parseAuditQuery(new URLSearchParams('valueOf=x'))).toEqual({
      ok: false,
      fields: { valueOf: 'is not a known field' },
    });
  });

  it('should take since and until only as ISO 8601 times or epoch milliseconds', () => {
    for (const since of ['2026-11-27', '2026-11-27T10:00:00Z', '2026-11-27T10:00:00.5+01:00', '1795770000000', '0']) {
      expect(parseAuditQuery(new URLSearchParams({ since })).ok).toBe(true);
    }
    for (const since of ['2024', 'March 7', '1.5', 'yesterday']) {
      expect(parseAuditQuery(new URLSearchParams({ since }))).toMatchObject({
        ok: false,
        fields: { since: expect.any(String) },
      });
    }
  });

  it('should refuse a date or time that does not exist rather than roll it over to another', () => {
    expect(parseAuditQuery(new URLSearchParams('since=2024-02-29&until=2026-04-30T23:59:59Z')).ok).toBe(true);
    // Date.parse reads 2026-02-30 as 2026-03-02 and 2026-04-31 as 2026-05-01: the query would filter other days.
    const message = 'must be an ISO 8601 time (2026-11-27T10:00:00Z) or epoch milliseconds';
    expect(parseAuditQuery(new URLSearchParams('since=2026-02-30&until=2026-04-31T00:00:00Z'))).toEqual({
      ok: false,
      fields: { since: message, until: message },
    });
    for (const since of ['2025-02-29', '2026-06-31T10:00', '2026-11-27T24:00:00Z']) {
      expect(parseAuditQuery(new URLSearchParams({ since })), since).toEqual({ ok: false, fields: { since: message } });
    }
  });

  it('should log the status it answered when the handler fails unexpectedly', async () => {
    logLines.length = 0;
    const answer = await fetch(`${url}/vault/keys/kbk_0000000000000000`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(answer.status).toBe(500);
    const admin = logLines
      .map((line) => JSON.parse(line) as { admin?: boolean; status?: number })
      .find((line) => line.admin);
    expect(admin?.status).toBe(500);
  });

  it('should log no status for an admin call whose client closed the connection while sending its body', async () => {
    logLines.length = 0;
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /vault/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"vendor":`,
    );
    // The headers are read and the body is awaited; then the client goes.
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    await expect.poll(() => logLines.some((line) => line.includes('"admin":true'))).toBe(true);
    const admin = logLines
      .map((line) => JSON.parse(line) as { admin?: boolean; status?: number | null })
      .find((line) => line.admin);
    expect(admin?.status).toBeNull();
  });

  it('should never log or echo a vault key named in an admin path, whatever the token', async () => {
    const issued = (await (await post('{"vendor":"acme","cap_usd":10}')).json()) as { vault_key: string };
    logLines.length = 0;
    const stale = await fetch(`${url}/vault/keys/${issued.vault_key}`, {
      method: 'DELETE',
      headers: { authorization: 'Bearer stale-token-0123456789' },
    });
    expect(stale.status).toBe(401);
    expect((await fetch(`${url}/vault/keys/${issued.vault_key}`)).status).toBe(401);
    const beyond = await fetch(`${url}/vault/keys/${issued.vault_key}/x${'y'.repeat(4000)}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(beyond.status).toBe(404);
    const echoed = (await errorOf(beyond)).message;
    expect(echoed).not.toContain(issued.vault_key);
    expect(echoed.length).toBeLessThan(300);
    const routes = logLines.map((line) => (JSON.parse(line) as { route?: string }).route);
    expect(routes).toEqual(['/vault/keys/{id}', '/vault/keys/{id}', '/vault/*']);
    expect(logLines.join('')).not.toMatch(/kb_(test|live)_/);
  });

  it('should print no terminal control sequence or forged line from a label', async () => {
    const env = { KEYBRAKE_ADMIN_TOKEN: ADMIN_TOKEN, KEYBRAKE_URL: url };
    const hostile = 'ok\u001b]0;owned\u0007\u001b[2J\u009b\nSession forged  (kbk_forged)';
    const issue = captureIo(env);
    expect(
      await runCli({ argv: ['keys', 'issue', '--vendor', 'acme', '--cap', '5', '--label', hostile], ...issue.io }),
    ).toBe(0);
    const vaultKey = /kb_test_\w+/.exec(issue.out.stdout)?.[0] ?? '';
    await fetch(`${url}/v1/charges`, { method: 'POST', headers: { authorization: `Bearer ${vaultKey}` }, body: 'a=1' });
    const audit = captureIo(env);
    expect(await runCli({ argv: ['audit'], ...audit.io })).toBe(0);
    for (const text of [issue.out.stdout, audit.out.stdout]) {
      expect(text).toContain('ok\uFFFD]0;owned');
      // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point.
      expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
      expect(text).not.toMatch(/^Session forged/m);
    }
  });

  it('should exit 1 with a message when the URL answers 200 with something that is not the admin API', async () => {
    let answer = { type: 'text/html', body: '<html>dev server</html>' };
    const other = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': answer.type }).end(answer.body);
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const env = {
      KEYBRAKE_ADMIN_TOKEN: ADMIN_TOKEN,
      KEYBRAKE_URL: `http://127.0.0.1:${(other.address() as AddressInfo).port}`,
    };
    try {
      // A page, then another service's JSON (a health check): neither may crash a command.
      for (const body of ['<html>dev server</html>', '{"status":"ok","id":"svc"}']) {
        answer = { type: body.startsWith('{') ? 'application/json' : 'text/html', body };
        for (const argv of [
          ['keys', 'issue', '--cap', '1'],
          ['keys', 'show', 'kbk_1'],
          ['keys', 'revoke', 'kbk_1'],
          ['audit'],
        ]) {
          const run = captureIo(env);
          expect(await runCli({ argv, ...run.io }), `${argv.join(' ')} on ${body}`).toBe(1);
          expect(run.out.stderr).toMatch(/is not a Keybrake proxy/);
        }
      }
    } finally {
      other.close();
    }
  });

  it('should give an admin call up when the server never answers, as unreachable', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const admin = createAdminClient({
        url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
        adminToken: ADMIN_TOKEN,
        timeoutMs: 300,
      });
      expect(await admin.getKey('kbk_1')).toMatchObject({
        ok: false,
        code: 'KEYBRAKE_UNREACHABLE',
        message: expect.stringContaining('no answer within 0.3 s'),
      });
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('should never print the admin token or a password in --url, and say what is wrong with them', async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [
        { KEYBRAKE_ADMIN_TOKEN: 'admin-token-0123\nSECRET-PART-456789' },
        /KEYBRAKE_ADMIN_TOKEN must be printable ASCII/,
      ],
      [{ KEYBRAKE_ADMIN_TOKEN: 'admin-token-0123-SECRET-PART-\u00e9' }, /KEYBRAKE_ADMIN_TOKEN must be printable ASCII/],
      [{ KEYBRAKE_URL: 'http://admin:SECRET-PART@127.0.0.1:9' }, /--url must not carry a user name or password/],
      [{ KEYBRAKE_URL: 'admin:SECRET-PART@127.0.0.1:9' }, /invalid --url "…@127.0.0.1:9"/],
      [{ KEYBRAKE_URL: 'http://admin:SECRET-PART/x@127.0.0.1:9' }, /invalid --url "…@127.0.0.1:9"/],
    ];
    for (const [env, message] of cases) {
      const run = captureIo({ KEYBRAKE_ADMIN_TOKEN: ADMIN_TOKEN, KEYBRAKE_URL: 'http://127.0.0.1:9', ...env });
      expect(await runCli({ argv: ['keys', 'show', 'kbk_1'], ...run.io }), JSON.stringify(env)).toBe(2);
      expect(run.out.stderr).toMatch(message);
      expect(run.out.stderr).not.toContain('SECRET-PART');
    }
  });
});

describe('an admin token no one could present', () => {
  it('should be refused at start: with a space, a tab or a trailing \\r', () => {
    const vault = createVault({ secrets: {} });
    for (const token of ['correct horse battery staple', 'admin-token-0123456789\r', 'admin-token\t0123456789']) {
      expect(() => createProxyServer({ vault, adminToken: token }), JSON.stringify(token)).toThrow(
        /printable ASCII without spaces/,
      );
      expect(() => resolveServeConfig({ flags: {}, env: { KEYBRAKE_ADMIN_TOKEN: token } })).toThrow(
        /printable ASCII without spaces/,
      );
    }
  });
});
