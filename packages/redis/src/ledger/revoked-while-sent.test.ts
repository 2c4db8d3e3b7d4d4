// With the Redis storage the ledger reads revocations when it reserves, and a denial before that
// is re-read as "revoked" if the chain is revoked by then. A call that was sent is past that
// point: its timeout must stay an unknown outcome, not become "revoked, not sent" — which a team
// member's fetch (resending a call caught by a refresh) would send a second time.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBearerVendor, createFixedPriceCostModel, createVault, openTeamSession } from '@keybrake/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRedisStorage } from '../create-redis-storage.js';
import { type RedisServer, startRedisServer } from '../testing/start-redis-server.js';

let redis: RedisServer;
let url = '';
const received: string[] = [];
let onPost: () => void = () => {};
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    received.push(`${req.method} ${req.url}`);
    onPost();
    // Never answers in time: the vault's upstreamTimeout (1 s) cuts the call off after it was sent.
    setTimeout(() => {
      if (res.destroyed) return;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"id":"ch_1"}');
    }, 2500);
  });
});
beforeAll(async () => {
  redis = await startRedisServer({});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await Promise.all([redis.close(), new Promise((resolve) => server.close(resolve))]);
});

/** A vault on its own Redis prefix whose $20 charges time out after a second, once sent. */
const createAcmeVault = () =>
  createVault({
    ...createRedisStorage({ url: redis.url, prefix: `test:${randomUUID()}:`, onAuditError: () => {} }),
    vendors: {
      acme: createBearerVendor({
        name: 'acme',
        baseUrl: url,
        costModel: createFixedPriceCostModel({ prices: { 'POST /v1/charges': '20.00' } }),
      }),
    },
    secrets: { acme: 'sk_acme_live_DO_NOT_LEAK_0123456789' },
    upstreamTimeout: 1,
  });

it('should not report a sent call of unknown outcome as revoked, nor let a team fetch send it twice', async () => {
  const vault = createAcmeVault();
  try {
    const team = await openTeamSession(vault, {
      label: 'team/sess_1',
      capUsd: 100,
      members: { billing: { vendor: 'acme', capUsd: 100 } },
    });
    const billing = team.member('billing');
    // The member's keys are refreshed while its charge is at the vendor (already sent).
    let refreshed: Promise<void> = Promise.resolve();
    onPost = () => {
      onPost = () => {};
      refreshed = billing.refresh();
    };
    const response = await billing.fetch('acme')(`${url}/v1/charges`, { method: 'POST', body: 'amount=2000' });
    await refreshed;
    const body = await response.text();

    // The charge was sent once and its outcome is unknown: a 504, not "revoked, not sent"...
    expect(received, body).toEqual(['POST /v1/charges']);
    expect(response.headers.get('x-keybrake-code'), body).toBe('KEYBRAKE_UPSTREAM_ERROR');
    expect(response.status).toBe(504);
  } finally {
    await vault.close();
  }
}, 20_000);

it('should not tell the caller of a sent, timed-out call that it was revoked and "not sent"', async () => {
  received.length = 0;
  const vault = createAcmeVault();
  try {
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 100 });
    let revoked: Promise<unknown> = Promise.resolve();
    onPost = () => {
      onPost = () => {};
      revoked = vault.revokeKey(key.id);
    };
    const response = await vault.handle({ vaultKey: key.vaultKey, method: 'POST', path: '/v1/charges', headers: {} });
    await revoked;
    const message = response.keybrake.error?.message;
    expect(received).toEqual(['POST /v1/charges']);
    expect(message).not.toMatch(/The call was not sent/);
    expect(response.keybrake.error?.code, message).toBe('KEYBRAKE_UPSTREAM_ERROR');
  } finally {
    await vault.close();
  }
}, 20_000);
