// A settlement that times out while Redis is hung, then runs once Redis answers again: the ledger
// holds the call's real cost, and the audit record must come to say the same.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CostModel, createBearerVendor, createVault, type Vault } from '@keybrake/core';
import { createClient } from '@redis/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisStorage } from '../create-redis-storage.js';
import { type RedisServer, startRedisServer } from '../testing/start-redis-server.js';

/** Estimates every charge at $3.00 and settles it at what the vendor says it charged. */
const chargedAsAnswered: CostModel = {
  estimate: () => ({ kind: 'known', micros: 3_000_000 }),
  settle: (_request, response) => {
    const charged = (response.json as { charged_micros?: unknown } | undefined)?.charged_micros;
    return Number.isSafeInteger(charged)
      ? { kind: 'known', micros: charged as number, note: 'charged' }
      : { kind: 'unknown', reason: 'no charged_micros' };
  },
};

describe('a settlement that reaches Redis late', () => {
  let redis: RedisServer;
  let admin: ReturnType<typeof createClient>;
  let vault: Vault;
  const upstream = createServer((request, response) => {
    request.resume();
    request.on('end', async () => {
      // Redis hangs while the vendor answers: the settlement that follows times out on the client.
      await admin.clientPause(900);
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ id: 'ch_1', charged_micros: 1_000_000 }));
    });
  });

  beforeAll(async () => {
    redis = await startRedisServer();
    admin = createClient({ url: redis.url });
    await admin.connect();
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const storage = createRedisStorage({
      url: redis.url,
      prefix: `test:${randomUUID()}:`,
      commandTimeout: '200ms',
      onAuditError: () => {},
    });
    vault = createVault({
      ...storage,
      vendors: {
        acme: createBearerVendor({ name: 'acme', baseUrl: 'https://api.acme.invalid', costModel: chargedAsAnswered }),
      },
      secrets: { acme: 'acme_secret_0123456789' },
      upstreams: { acme: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` },
    });
  });
  afterAll(async () => {
    await vault.close();
    await admin.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
    await redis.close();
  });

  it('should write the audit record again with the amount the ledger holds', async () => {
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
    const answer = await vault.handle({
      method: 'POST',
      path: '/v1/charges',
      headers: { authorization: `Bearer ${key.vaultKey}`, 'content-type': 'application/json' },
      body: new TextEncoder().encode('{"amount":100}'),
    });
    expect(answer.status).toBe(200);
    const auditId = answer.keybrake.auditId;

    // Once Redis answers again: the ledger settled at $1.00, and so does the audit.
    await expect
      .poll(async () => (await vault.queryAudit({ keyId: key.id })).records.find((each) => each.id === auditId), {
        timeout: 5000,
        interval: 100,
      })
      .toMatchObject({
        revision: 1,
        estimatedMicros: 3_000_000,
        actualMicros: 1_000_000,
        note: 'charged; settled late: the settlement timed out, then reached the ledger',
      });
    const status = await vault.getKeyStatus(key.id);
    expect(status).toMatchObject({ spentMicros: 1_000_000, reservedMicros: 0 });
    const { records } = await vault.queryAudit({ keyId: key.id });
    expect(records.filter((each) => each.id === auditId)).toHaveLength(1);
  });
});
