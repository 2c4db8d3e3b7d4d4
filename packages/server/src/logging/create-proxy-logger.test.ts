import { createVault } from '@keybrake/core';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createProxyServer } from '../server/create-proxy-server.js';
import { ACME_SECRET, createAcmeVendor, startAcmeUpstream } from '../test-utils/start-acme-upstream.js';
import { createProxyLogger, serializeErrorWithoutCredentials } from './create-proxy-logger.js';

describe('createProxyLogger', () => {
  describe('when a line carries a credential by mistake', () => {
    it('should censor it', () => {
      const lines: string[] = [];
      const logger = createProxyLogger({ level: 'info', destination: { write: (line: string) => lines.push(line) } });
      logger.info(
        {
          authorization: 'Bearer kb_test_secret',
          vaultKey: 'kb_test_secret',
          headers: { authorization: 'Basic abc' },
          secrets: { stripe: 'sk_test_x' },
          keyId: 'kbk_1',
        },
        'oops',
      );
      const [line] = lines;
      expect(line).not.toContain('kb_test_secret');
      expect(line).not.toContain('sk_test_x');
      expect(line).not.toContain('Basic abc');
      expect(JSON.parse(line ?? '{}')).toMatchObject({ keyId: 'kbk_1', vaultKey: '[redacted]', msg: 'oops' });
    });
  });

  describe('when a call is refused for its key', () => {
    it('should log a revoked key under keyId, and one the vault does not know under presentedKeyId', async () => {
      const upstream = await startAcmeUpstream();
      const vault = createVault({ vendors: { acme: createAcmeVendor(upstream.url) }, secrets: { acme: ACME_SECRET } });
      const stranger = createVault({
        vendors: { acme: createAcmeVendor(upstream.url) },
        secrets: { acme: ACME_SECRET },
      });
      const lines: string[] = [];
      const logger = createProxyLogger({ destination: { write: (line: string) => lines.push(line) } });
      const proxy = createProxyServer({ vault, adminToken: 'admin-token-0123456789-abcdef', logger });
      const url = await proxy.listen({ port: 0 });
      try {
        const [revoked, unknown] = [
          await vault.issueKey({ vendor: 'acme', capUsd: 10 }),
          await stranger.issueKey({ vendor: 'acme', capUsd: 10 }),
        ];
        await vault.revokeKey(revoked.id);
        for (const key of [revoked, unknown]) {
          const answer = await fetch(`${url}/v1/phone/1`, { headers: { authorization: `Bearer ${key.vaultKey}` } });
          expect(answer.status).toBe(401);
          await answer.arrayBuffer();
        }
        const denials = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((e) => 'decision' in e);
        expect(denials.map((entry) => [entry.keyId, entry.presentedKeyId, entry.reason])).toEqual([
          [revoked.id, undefined, 'KEYBRAKE_KEY_REVOKED'],
          [null, unknown.id, 'KEYBRAKE_INVALID_KEY'],
        ]);
        expect(lines.join('')).not.toContain(revoked.vaultKey);
      } finally {
        await proxy.close();
        await Promise.all([vault.close(), stranger.close(), upstream.close()]);
      }
    });
  });

  describe('when the proxy is given a logger of its own', () => {
    it("should keep the logger's own redaction, and censor an error's Authorization header", async () => {
      const upstream = await startAcmeUpstream();
      const vault = createVault({ vendors: { acme: createAcmeVendor(upstream.url) }, secrets: { acme: ACME_SECRET } });
      const lines: string[] = [];
      // An operator who hides paths (phone numbers in them) and members (people's addresses).
      const logger = pino(
        { redact: { paths: ['path', 'member'], censor: '[hidden]' } },
        { write: (line: string) => lines.push(line) },
      );
      const proxy = createProxyServer({ vault, adminToken: 'admin-token-0123456789-abcdef', logger });
      const url = await proxy.listen({ port: 0 });
      try {
        const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
        const answer = await fetch(`${url}/v1/phone/+15551234567`, {
          headers: { authorization: `Bearer ${key.vaultKey}`, 'x-keybrake-member': 'alice@example.com' },
        });
        await answer.arrayBuffer();
        const entry = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((e) => 'decision' in e);
        expect(entry).toMatchObject({ path: '[hidden]', member: '[hidden]', keyId: key.id });
        expect(lines.join('')).not.toContain('+15551234567');
      } finally {
        await proxy.close();
        await upstream.close();
      }
      const failure = Object.assign(new Error('upstream refused'), {
        headers: { Authorization: 'Bearer kb_test_leaked', accept: 'application/json' },
      });
      expect(serializeErrorWithoutCredentials(failure)).toMatchObject({
        message: 'upstream refused',
        headers: { Authorization: '[redacted]', accept: 'application/json' },
      });
    });

    it("should keep the logger's own err serializer under the proxy's", async () => {
      const upstream = await startAcmeUpstream();
      const vault = createVault({ vendors: { acme: createAcmeVendor(upstream.url) }, secrets: { acme: ACME_SECRET } });
      const lines: string[] = [];
      // An operator whose err serializer scrubs connection strings from messages.
      const logger = pino(
        {
          serializers: {
            err: (error: Error) => ({ type: error.name, message: error.message.replace(/redis:\/\/\S+/g, '[dsn]') }),
          },
        },
        { write: (line: string) => lines.push(line) },
      );
      const proxy = createProxyServer({ vault, adminToken: 'admin-token-0123456789-abcdef', logger });
      const url = await proxy.listen({ port: 0 });
      vault.handle = async () => {
        throw new Error('connect failed: redis://:hunter2@cache.internal:6379');
      };
      try {
        const answer = await fetch(`${url}/v1/charges`, { method: 'POST', headers: { authorization: 'Bearer x' } });
        expect(answer.status).toBe(500);
        const failed = lines.find((line) => line.includes('request failed'));
        expect(failed).toContain('connect failed: [dsn]');
        expect(failed).not.toContain('hunter2');
      } finally {
        await proxy.close();
        await upstream.close();
      }
    });
  });
});
