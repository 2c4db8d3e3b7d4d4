import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { createVault, type Vault } from '@keybrake/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProxyLogger } from '../logging/create-proxy-logger.js';
import { sendRaw } from '../test-utils/send-raw.js';
import { ACME_SECRET, createAcmeVendor, startAcmeUpstream } from '../test-utils/start-acme-upstream.js';
import type { WireAuditResult, WireError, WireIssuedKey, WireKeyStatus } from '../wire/wire-types.js';
import { createProxyServer, type ProxyServer } from './create-proxy-server.js';

const ADMIN_TOKEN = 'admin-token-0123456789-abcdef';

describe('createProxyServer', () => {
  let upstream: Awaited<ReturnType<typeof startAcmeUpstream>>;
  let vault: Vault;
  let proxy: ProxyServer;
  let url: string;
  let now = Date.UTC(2030, 0, 1, 12);
  const logLines: string[] = [];

  beforeAll(async () => {
    upstream = await startAcmeUpstream();
    vault = createVault({
      vendors: { acme: createAcmeVendor(upstream.url) },
      secrets: { acme: ACME_SECRET },
      now: () => now,
    });
    proxy = createProxyServer({
      vault,
      adminToken: ADMIN_TOKEN,
      maxBodyBytes: 4096,
      logger: createProxyLogger({ level: 'debug', destination: { write: (line: string) => logLines.push(line) } }),
    });
    url = await proxy.listen({ port: 0 });
  });
  afterAll(async () => {
    await proxy.close();
    await upstream.close();
  });

  const admin = (method: string, path: string, body?: unknown, token = ADMIN_TOKEN) =>
    fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const issue = async (body: Record<string, unknown>) => {
    const response = await admin('POST', '/vault/keys', body);
    expect(response.status).toBe(201);
    return (await response.json()) as WireIssuedKey;
  };
  const call = (vaultKey: string, path: string, init: RequestInit = {}) =>
    fetch(`${url}${path}`, {
      method: 'POST',
      ...init,
      headers: { authorization: `Bearer ${vaultKey}`, ...(init.headers as Record<string, string>) },
    });

  describe('when the admin API is called without the admin token', () => {
    it('should answer 401 to a missing token, a wrong token and a vault key', async () => {
      const key = await issue({ vendor: 'acme', cap_usd: 10 });
      for (const token of ['', 'wrong-token-0123456789', key.vault_key]) {
        const response = await admin('GET', `/vault/keys/${key.id}`, undefined, token);
        expect(response.status).toBe(401);
        expect(((await response.json()) as WireError).error.code).toBe('KEYBRAKE_UNAUTHORIZED');
      }
      expect((await fetch(`${url}/metrics`)).status).toBe(401);
    });
  });

  describe('when keys are issued, shown and revoked', () => {
    it('should answer in snake_case with USD amounts, 404 for an unknown key, and revoke the whole tree', async () => {
      const session = await issue({ cap_usd: 200, expires_in: '1h', agent_run_label: 'team/sess_1' });
      expect(session).toEqual({
        id: expect.stringMatching(/^kbk_/),
        vault_key: expect.stringMatching(/^kb_test_/),
        vendor: null,
        expires_at: new Date(now + 3_600_000).toISOString(),
        parent_id: null,
        root_id: session.id,
        label: 'team/sess_1',
      });
      const billing = await issue({
        vendor: 'acme',
        parent_id: session.id,
        cap_usd: '150',
        daily_usd_cap: 100,
        max_calls: 50,
        per_call_max_usd: 10,
        allowed_endpoints: ['POST /v1/charges', 'GET /v1/customers/*'],
        label: 'team/sess_1/billing',
        metadata: { team: 'billing' },
      });
      expect(billing).toMatchObject({ parent_id: session.id, root_id: session.id, vendor: 'acme' });

      expect((await call(billing.vault_key, '/v1/charges', { body: 'amount=500' })).status).toBe(200);
      const response = await admin('GET', `/vault/keys/${billing.id}`);
      expect(response.status).toBe(200);
      const status = (await response.json()) as WireKeyStatus;
      expect(status).toMatchObject({
        id: billing.id,
        label: 'team/sess_1/billing',
        vendor: 'acme',
        parent_id: session.id,
        root_id: session.id,
        spent_usd: 5,
        reserved_usd: 0,
        remaining_usd: 95,
        calls: 1,
        max_calls: 50,
        allowed_endpoints: ['POST /v1/charges', 'GET /v1/customers/*'],
        expired: false,
        revoked: false,
        children: [],
        metadata: { team: 'billing' },
      });
      expect(status.caps).toEqual([
        expect.objectContaining({ key_id: billing.id, kind: 'total', cap_usd: 150, spent_usd: 5, remaining_usd: 145 }),
        expect.objectContaining({ key_id: billing.id, kind: 'daily', cap_usd: 100, remaining_usd: 95 }),
        expect.objectContaining({ key_id: session.id, kind: 'total', cap_usd: 200, remaining_usd: 195 }),
      ]);

      const unknown = await admin('GET', '/vault/keys/kbk_doesnotexist000');
      expect(unknown.status).toBe(404);
      expect(((await unknown.json()) as WireError).error.code).toBe('KEYBRAKE_NOT_FOUND');

      const revoked = await admin('DELETE', `/vault/keys/${session.id}`);
      expect(await revoked.json()).toEqual({ revoked: [session.id, billing.id] });
      expect(((await (await admin('GET', `/vault/keys/${billing.id}`)).json()) as WireKeyStatus).revoked).toBe(true);
      expect((await admin('DELETE', '/vault/keys/kbk_doesnotexist000')).status).toBe(404);
    });
  });

  describe('when an operator names a key by its vault key', () => {
    it('should show and revoke it by its id, and never log or echo the vault key', async () => {
      const key = await issue({ vendor: 'acme', cap_usd: 10 });
      const lines = logLines.length;
      const shown = await admin('GET', `/vault/keys/${key.vault_key}`);
      expect(((await shown.json()) as WireKeyStatus).id).toBe(key.id);
      const revoked = (await (await admin('DELETE', `/vault/keys/${key.vault_key}`)).json()) as { revoked: string[] };
      expect(revoked.revoked).toEqual([key.id]);
      // A key-shaped string whose checksum is wrong names nothing, and is not echoed either.
      const forged = `${key.vault_key.slice(0, -1)}${key.vault_key.endsWith('A') ? 'B' : 'A'}`;
      const missing = await admin('DELETE', `/vault/keys/${forged}`);
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as WireError).error.message).toBe('Key "[redacted vault key]" does not exist.');
      const written = logLines.slice(lines).join('');
      expect(written).toContain(key.id);
      expect(written).not.toMatch(/kb_(test|live)_/);
    });
  });

  describe('when a key body is invalid', () => {
    it('should answer 400 with a message per field', async () => {
      const response = await admin('POST', '/vault/keys', {
        vendor: 'nope',
        cap_usd: -1,
        max_calls: 1.5,
        allowed_endpoints: ['POST /v1/charges', 'FETCH v1'],
        expires_in: 'soon',
        capUsd: 10,
      });
      expect(response.status).toBe(400);
      const { error } = (await response.json()) as WireError;
      expect(error.code).toBe('KEYBRAKE_INVALID_POLICY');
      expect(Object.keys(error.fields ?? {}).sort()).toEqual([
        'allowed_endpoints.1',
        'capUsd',
        'cap_usd',
        'expires_in',
        'max_calls',
        'vendor',
      ]);
      expect(error.fields?.vendor).toContain('acme');
      expect(error.fields?.capUsd).toBe('is not a known field');

      const notJson = await fetch(`${url}/vault/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        body: '{',
      });
      expect(((await notJson.json()) as WireError).error.code).toBe('KEYBRAKE_INVALID_REQUEST');
    });

    // As core (and the CLI's --max-calls 0) allows: a key that may make no call, e.g. a budget
    // key whose children's calls still count against it.
    it('should take max_calls 0, as core does, and deny every call of that key', async () => {
      const none = await issue({ vendor: 'acme', cap_usd: 10, max_calls: 0 });
      expect(none.id).toMatch(/^kbk_/);
      const before = upstream.received.length;
      const response = await call(none.vault_key, '/v1/charges', { body: 'amount=100' });
      expect(response.status).toBe(429);
      expect(upstream.received.length).toBe(before);
      const negative = await admin('POST', '/vault/keys', { vendor: 'acme', cap_usd: 10, max_calls: -1 });
      expect(Object.keys(((await negative.json()) as WireError).error.fields ?? {})).toEqual(['max_calls']);
    });

    it("should answer 400 when core refuses the policy (a child's cap over its parent's remaining budget)", async () => {
      const parent = await issue({ vendor: 'acme', cap_usd: 10 });
      const response = await admin('POST', '/vault/keys', { parent_id: parent.id, cap_usd: 11 });
      expect(response.status).toBe(400);
      const { error } = (await response.json()) as WireError;
      expect(error).toMatchObject({ code: 'KEYBRAKE_INVALID_POLICY', message: expect.stringMatching(/cannot exceed/) });
      const noCap = await admin('POST', '/vault/keys', { vendor: 'acme' });
      expect(((await noCap.json()) as WireError).error.message).toMatch(/root key needs a cap/);
    });
  });

  describe('when vendor calls arrive', () => {
    it('should route /acme/… and bare paths by the key, inject the real secret and forward no Keybrake header', async () => {
      const key = await issue({ vendor: 'acme', cap_usd: 100, agent_run_label: 'routing' });
      const before = upstream.received.length;
      const prefixed = await call(key.vault_key, '/acme/v1/charges?expand=x', {
        body: 'amount=1',
        headers: {
          'x-keybrake-member': 'billing',
          'x-keybrake-tool': 'charge',
          'x-keybrake-tool-call-id': 'call_1',
          'content-type': 'application/x-www-form-urlencoded',
          host: 'evil.example',
        },
      });
      expect(prefixed.status).toBe(200);
      expect(await prefixed.json()).toEqual({ ok: true, path: '/v1/charges?expand=x' });
      expect(prefixed.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
      expect(prefixed.headers.get('x-keybrake-audit-id')).toMatch(/^[0-9a-f-]{36}$/);
      now += 1000;
      const bare = await call(key.vault_key, '/v1/customers/cus_1', { method: 'GET' });
      expect(bare.status).toBe(200);

      const forwarded = upstream.received.slice(before);
      expect(forwarded.map((request) => `${request.method} ${request.url}`)).toEqual([
        'POST /v1/charges?expand=x',
        'GET /v1/customers/cus_1',
      ]);
      for (const request of forwarded) {
        expect(request.headers.authorization).toBe(`Bearer ${ACME_SECRET}`);
        expect(Object.keys(request.headers).filter((name) => name.startsWith('x-keybrake'))).toEqual([]);
        expect(request.headers.host).toBe(new URL(upstream.url).host);
      }
      const audit = await admin('GET', `/vault/audit?key_id=${key.id}`);
      const { records, totals } = (await audit.json()) as WireAuditResult;
      expect(records.map((record) => record.path)).toEqual(['/v1/customers/cus_1', '/v1/charges']);
      expect(records[1]).toMatchObject({
        key_id: key.id,
        root_id: key.id,
        label: 'routing',
        vendor: 'acme',
        method: 'POST',
        decision: 'allowed',
        actual_usd: 5,
        vendor_status: 200,
        vendor_request_id: expect.stringMatching(/^req_/),
        actor: { member: 'billing', tool: 'charge', tool_call_id: 'call_1' },
      });
      expect(totals).toEqual([{ key_id: key.id, label: 'routing', calls: 2, allowed: 2, denied: 0, spent_usd: 5 }]);
    });

    it('should refuse a request that names a host (absolute-form), and a key of another vendor on a vendor route', async () => {
      const key = await issue({ vendor: 'acme', cap_usd: 100 });
      const status = await new Promise<number>((resolve, reject) => {
        const request = httpRequest({
          host: '127.0.0.1',
          port: new URL(url).port,
          method: 'GET',
          path: 'http://evil.example/v1/customers',
          headers: { authorization: `Bearer ${key.vault_key}` },
        });
        request.on('response', (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.on('error', reject);
        request.end();
      });
      expect(status).toBe(400);
      const session = await issue({ cap_usd: 1 });
      const wrongVendor = await call(session.vault_key, '/acme/v1/charges');
      expect(wrongVendor.status).toBe(401);
      expect(wrongVendor.headers.get('x-keybrake-code')).toBe('KEYBRAKE_INVALID_KEY');
    });

    it('should refuse a "#" in the query, which the vendor may read as a fragment, and send nothing', async () => {
      const key = await issue({ vendor: 'acme', cap_usd: 100, allowed_endpoints: ['POST /v1/charges'] });
      const before = upstream.received.length;
      const answer = await sendRaw(
        url,
        `POST /v1/charges?currency=usd&amount=100000#&amount=100 HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key.vault_key}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`,
      );
      expect(answer).toMatch(/^HTTP\/1\.1 400 /);
      expect(answer).toContain('percent-encode it as %23');
      expect(upstream.received.length).toBe(before);
    });

    it('should refuse TRACE and other methods no vendor call uses, whatever the key allows, and send nothing', async () => {
      const key = await issue({ vendor: 'acme', cap_usd: 100, fallback_estimate_usd: 1 });
      const before = upstream.received.length;
      for (const method of ['TRACE', 'PROPFIND', 'LOCK']) {
        const answer = await sendRaw(
          url,
          `${method} /v1/charges HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key.vault_key}\r\nconnection: close\r\n\r\n`,
        );
        expect(answer).toMatch(/^HTTP\/1\.1 405 /);
        expect(answer).toContain('is not one a vendor call uses');
        expect(answer).not.toContain(ACME_SECRET);
      }
      expect(upstream.received.length).toBe(before);
    });

    it('should pass on no Expect, method-override or Connection-named header, and refuse a compressed body', async () => {
      const key = await issue({ vendor: 'acme', cap_usd: 100, allowed_endpoints: ['POST /v1/charges'] });
      const head = `POST /v1/charges HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key.vault_key}\r\n`;
      const before = upstream.received.length;
      // curl's default for bodies over 1 kB: undici refuses to send the header, so it must not be passed on.
      const continued = await sendRaw(
        url,
        `${head}expect: 100-continue\r\nx-http-method-override: DELETE\r\nx-method-override: DELETE\r\nx-http-method: DELETE\r\n` +
          // Path overrides some frameworks honour, and a name a CGI-style server reads as `X-Under`.
          'x-original-url: /v1/refunds\r\nx-rewrite-url: /v1/refunds\r\nmax-forwards: 0\r\nx_under: 1\r\n' +
          'connection: close, x-hop\r\nx-hop: 1\r\ncontent-length: 10\r\n\r\namount=100',
      );
      expect(continued).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
      const forwarded = upstream.received.slice(before);
      expect(forwarded).toHaveLength(1);
      expect(
        Object.keys(forwarded[0]?.headers ?? {}).filter((name) =>
          /expect|override|method|hop|url|forwards|under/.test(name),
        ),
      ).toEqual([]);

      const gzipped = gzipSync('amount=100');
      const compressed = await sendRaw(
        url,
        Buffer.concat([
          Buffer.from(
            `${head}content-encoding: gzip\r\ncontent-length: ${gzipped.length}\r\nconnection: close\r\n\r\n`,
          ),
          gzipped,
        ]),
      );
      expect(compressed).toMatch(/^HTTP\/1\.1 415 /);
      expect(compressed).toMatch(/Content-Encoding \\"gzip\\", which Keybrake cannot read/);
      expect(upstream.received.length).toBe(before + 1);
      expect(await (await admin('GET', `/vault/keys/${key.id}`)).json()).toMatchObject({ spent_usd: 5, calls: 1 });
    });

    it('should keep a vault key a client put in the path out of the log and the audit trail', async () => {
      const key = await issue({ vendor: 'acme', cap_usd: 10, allowed_endpoints: ['GET /v1/customers/*'] });
      const lines = logLines.length;
      await call('not-a-key', `/v1/customers/${key.vault_key}`, { method: 'GET' });
      await call(key.vault_key, `/${key.vault_key}/v1/customers`, { method: 'GET' });
      const written = logLines.slice(lines).join('');
      expect(written).toContain('/v1/customers/[redacted vault key]');
      expect(written).not.toContain(key.vault_key);
      const audit = (await (await admin('GET', `/vault/audit?key_id=${key.id}`)).json()) as WireAuditResult;
      expect(audit.records.map((record) => record.path)).toEqual(['/[redacted vault key]/v1/customers']);
    });

    it('should keep a vault key out of the log and the audit trail when it is percent-encoded or sent in a header that is audited', async () => {
      const key = await issue({
        vendor: 'acme',
        cap_usd: 10,
        allowed_endpoints: ['GET /v1/customers/*', 'POST /v1/charges'],
      });
      const secretPart = key.vault_key.slice('kb_test_'.length);
      const encoded = key.vault_key.replace(
        /^kb_test_(.)/,
        (_, first: string) => `kb_test_%25${first.charCodeAt(0).toString(16)}`,
      );
      const lines = logLines.length;
      // Refused as malformed (an encoded slash), so the raw path is what would be kept.
      expect((await call(key.vault_key, `/v1/customers/${encoded}/x%2Fy`, { method: 'GET' })).status).toBe(403);
      const charged = await call(key.vault_key, '/v1/charges', {
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'idempotency-key': key.vault_key,
          'x-keybrake-member': key.vault_key,
          'x-keybrake-tool': `charge ${key.vault_key}`,
          'x-keybrake-tool-call-id': key.vault_key,
        },
        body: 'amount=100',
      });
      expect(charged.status).toBe(200);
      const written = logLines.slice(lines).join('');
      expect(written).toContain('[redacted vault key]');
      expect(written).not.toContain(secretPart);
      const audit = await (await admin('GET', `/vault/audit?key_id=${key.id}`)).text();
      expect(audit).toContain('[redacted vault key]');
      expect(audit).not.toContain(secretPart);
    });

    it('should deny over the cap, off the allow-list, after expiry and after revocation without reaching the vendor', async () => {
      const key = await issue({
        vendor: 'acme',
        cap_usd: 12,
        allowed_endpoints: ['POST /v1/charges'],
        expires_in: '10m',
      });
      const before = upstream.received.length;
      expect((await call(key.vault_key, '/v1/charges')).status).toBe(200);
      expect((await call(key.vault_key, '/v1/charges')).status).toBe(200);
      const over = await call(key.vault_key, '/v1/charges');
      expect(over.status).toBe(429);
      expect(over.headers.get('x-keybrake-code')).toBe('KEYBRAKE_CAP_EXCEEDED');
      const offList = await call(key.vault_key, '/v1/refunds');
      expect([offList.status, offList.headers.get('x-keybrake-code')]).toEqual([403, 'KEYBRAKE_ENDPOINT_NOT_ALLOWED']);
      expect(upstream.received.length).toBe(before + 2);

      const expiring = await issue({ vendor: 'acme', cap_usd: 12, expires_in: '1m' });
      now += 120_000;
      const expired = await call(expiring.vault_key, '/v1/charges');
      expect([expired.status, expired.headers.get('x-keybrake-code')]).toEqual([401, 'KEYBRAKE_KEY_EXPIRED']);
      const revokedKey = await issue({ vendor: 'acme', cap_usd: 12 });
      await admin('DELETE', `/vault/keys/${revokedKey.id}`);
      const revoked = await call(revokedKey.vault_key, '/v1/charges');
      expect([revoked.status, revoked.headers.get('x-keybrake-code')]).toEqual([401, 'KEYBRAKE_KEY_REVOKED']);
      expect(upstream.received.length).toBe(before + 2);
    });
  });

  describe('when a body is over the limit', () => {
    it('should answer 413 in the vendor shape, forward nothing, audit it under the key, and not wait for the rest of the body', async () => {
      const key = await issue({ vendor: 'acme', cap_usd: 100 });
      const before = upstream.received.length;
      const small = await call(key.vault_key, '/acme/v1/charges', {
        body: 'x'.repeat(5000),
        headers: { 'x-keybrake-member': 'billing' },
      });
      expect(small.status).toBe(413);
      expect(small.headers.get('x-keybrake-code')).toBe('KEYBRAKE_INVALID_REQUEST');
      expect(small.headers.get('connection')).toBe('close');
      expect(await small.json()).toMatchObject({
        error: {
          type: 'keybrake_error',
          code: 'KEYBRAKE_INVALID_REQUEST',
          message: expect.stringContaining('over the 4096-byte limit'),
        },
      });

      // Declares 100 MB, sends 1 KB and keeps the connection open: the answer must not wait for the rest.
      const { port } = new URL(url);
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), '127.0.0.1', () => {
          socket.write(
            `POST /v1/charges HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key.vault_key}\r\ncontent-length: 100000000\r\n\r\n${'y'.repeat(1024)}`,
          );
        });
        let text = '';
        socket.on('data', (chunk) => {
          text += chunk.toString('utf8');
          if (text.includes('\r\n\r\n')) {
            socket.destroy();
            resolve(text);
          }
        });
        socket.on('error', reject);
      });
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer.toLowerCase()).toContain('connection: close');
      expect(upstream.received.length).toBe(before);

      const auditId = /^x-keybrake-audit-id: (\S+)\r$/im.exec(answer)?.[1];
      const audit = await admin('GET', `/vault/audit?key_id=${key.id}`);
      const { records, totals } = (await audit.json()) as WireAuditResult;
      expect(records.map((record) => [record.decision, record.reason, record.path, record.actual_usd])).toEqual([
        ['denied', 'KEYBRAKE_INVALID_REQUEST', '/v1/charges', 0],
        ['denied', 'KEYBRAKE_INVALID_REQUEST', '/v1/charges', 0],
      ]);
      expect(records[0]?.id).toBe(auditId);
      expect(records[1]).toMatchObject({ vendor: 'acme', actor: { member: 'billing' } });
      expect(totals).toEqual([{ key_id: key.id, label: null, calls: 2, allowed: 0, denied: 2, spent_usd: 0 }]);
    });
  });

  describe('when /healthz and /metrics are read', () => {
    it('should report health publicly and count calls, denials, spend and latency for the admin', async () => {
      const health = await fetch(`${url}/healthz`);
      expect(await health.json()).toMatchObject({ status: 'ok', vendors: ['stripe', 'twilio', 'resend', 'acme'] });
      const metrics = await admin('GET', '/metrics');
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await metrics.text();
      expect(text).toMatch(/^keybrake_calls_total\{vendor="acme",decision="allowed"\} \d+$/m);
      // The over-cap call and the max_calls 0 key's call, of the tests above on this server.
      expect(text).toMatch(/^keybrake_denials_total\{vendor="acme",reason="KEYBRAKE_CAP_EXCEEDED"\} 2$/m);
      expect(text).toMatch(/^keybrake_denials_total\{vendor="acme",reason="KEYBRAKE_KEY_REVOKED"\} 1$/m);
      expect(text).toMatch(/^keybrake_spend_usd_total\{vendor="acme"\} \d+$/m);
      expect(text).toMatch(/^keybrake_upstream_latency_seconds_bucket\{vendor="acme",le="\+Inf"\} \d+$/m);
      expect(text).toContain('keybrake_calls_in_flight 0');
    });
  });

  describe('when calls were logged', () => {
    it('should have written one line per call with ids and never a vault key, a secret or the admin token', async () => {
      const calls = logLines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((entry) => 'decision' in entry);
      expect(calls.length).toBeGreaterThan(10);
      expect(calls).toContainEqual(
        expect.objectContaining({
          msg: 'vendor call denied',
          vendor: 'acme',
          method: 'POST',
          path: '/v1/charges',
          status: 429,
          decision: 'denied',
          reason: 'KEYBRAKE_CAP_EXCEEDED',
          keyId: expect.stringMatching(/^kbk_/),
        }),
      );
      expect(calls).toContainEqual(
        expect.objectContaining({ reason: 'KEYBRAKE_KEY_REVOKED', keyId: expect.stringMatching(/^kbk_/) }),
      );
      expect(calls).toContainEqual(expect.objectContaining({ decision: 'allowed', costUsd: 5, member: 'billing' }));
      const all = logLines.join('');
      expect(all).not.toMatch(/kb_(test|live)_/);
      expect(all).not.toContain(ACME_SECRET);
      expect(all).not.toContain(ADMIN_TOKEN);
    });
  });

  describe('when the log level is warn', () => {
    it('should log the denied call and not the allowed one', async () => {
      const lines: string[] = [];
      const vault = createVault({ vendors: { acme: createAcmeVendor(upstream.url) }, secrets: { acme: ACME_SECRET } });
      const quiet = createProxyServer({
        vault,
        adminToken: ADMIN_TOKEN,
        logger: createProxyLogger({ level: 'warn', destination: { write: (line: string) => lines.push(line) } }),
      });
      const quietUrl = await quiet.listen({ port: 0 });
      try {
        const key = await vault.issueKey({ vendor: 'acme', capUsd: 6 });
        const send = () =>
          fetch(`${quietUrl}/v1/charges`, { method: 'POST', headers: { authorization: `Bearer ${key.vaultKey}` } });
        expect((await send()).status).toBe(200);
        expect((await send()).status).toBe(429);
      } finally {
        await quiet.close();
      }
      const calls = lines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((entry) => 'decision' in entry);
      expect(calls).toEqual([
        expect.objectContaining({ msg: 'vendor call denied', decision: 'denied', reason: 'KEYBRAKE_CAP_EXCEEDED' }),
      ]);
    });
  });

  describe('when closed with a call in flight', () => {
    it('should stop accepting connections, finish the call, then close the vault', async () => {
      const upstream = await startAcmeUpstream();
      upstream.state.delayMs = 300;
      const vault = createVault({ vendors: { acme: createAcmeVendor(upstream.url) }, secrets: { acme: ACME_SECRET } });
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      let spentWhenClosed: number | undefined;
      const proxy = createProxyServer({
        vault: {
          ...vault,
          async close() {
            spentWhenClosed = (await vault.getKeyStatus(key.id)).spentMicros;
            await vault.close();
          },
        },
        adminToken: ADMIN_TOKEN,
        logger: createProxyLogger({ level: 'silent' }),
      });
      const url = await proxy.listen({ port: 0 });
      const inFlight = fetch(`${url}/v1/charges`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.vaultKey}` },
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const closed = proxy.close();
      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(response.headers.get('connection')).toBe('close');
      await closed;
      expect(spentWhenClosed).toBe(5_000_000);
      await expect(fetch(`${url}/healthz`)).rejects.toThrow();
      await upstream.close();
    });
  });

  describe('when the admin token is short', () => {
    it('should refuse to create the server', async () => {
      const vault = createVault();
      expect(() => createProxyServer({ vault, adminToken: 'short' })).toThrow(/at least 16 characters/);
      await vault.close();
    });
  });
});
