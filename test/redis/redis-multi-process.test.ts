import { randomUUID } from 'node:crypto';
import { createVault, toMicroUsd, type Vault } from '@keybrake/core';
import { createRedisStorage, type RedisServer, type RedisStorage, startRedisServer } from '@keybrake/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME_PRICES, ACME_SECRET, createAcmeVendor } from './create-acme-vendor.js';
import { spawnVaultWorker, type VaultWorker } from './spawn-vault-worker.js';
import { type PricedUpstream, startPricedUpstream } from './start-priced-upstream.js';
import type { WorkerCall, WorkerCallResult } from './worker-protocol.js';

/** As short as the workers' 2 s upstream timeout allows (2 × 2 s + 1 s). */
const RESERVATION_TTL_MS = 5000;

describe('createRedisStorage', () => {
  let redis: RedisServer;
  let upstream: PricedUpstream;
  let workers: VaultWorker[];
  let storage: RedisStorage;
  /** The test process's own vault: issues keys, reads balances and the audit trail. */
  let admin: Vault;

  beforeAll(async () => {
    [redis, upstream] = await Promise.all([startRedisServer(), startPricedUpstream({ slowMs: 250 })]);
    const prefix = `multi:${randomUUID()}:`;
    storage = createRedisStorage({ url: redis.url, prefix });
    admin = createVault({ ...storage, vendors: { acme: createAcmeVendor() }, secrets: { acme: ACME_SECRET } });
    workers = await Promise.all(
      [0, 1, 2].map((index) =>
        spawnVaultWorker({
          index,
          redisUrl: redis.url,
          prefix,
          upstreamUrl: upstream.url,
          reservationTtl: `${RESERVATION_TTL_MS}ms`,
          upstreamTimeout: '2s',
        }),
      ),
    );
    // Warm every process up (connections, JIT) so the race below is between equals.
    const warmUp = await admin.issueKey({ vendor: 'acme', capUsd: 100, expiresIn: '10m', label: 'warm-up' });
    await Promise.all(
      workers.map((worker) =>
        worker.send({ type: 'run', calls: Array(5).fill({ vaultKey: warmUp.vaultKey, path: '/v1/charges/small' }) }),
      ),
    );
  });
  afterAll(async () => {
    await Promise.all((workers ?? []).map((worker) => worker.kill()));
    await admin?.close();
    await Promise.all([redis?.close(), upstream?.close()]);
  });

  const spend = async (keyId: string) => {
    const balance = await storage.ledger.balance(keyId, Date.now());
    return balance.spentMicros + balance.reservedMicros;
  };

  describe('when 600 calls race through three processes on one team budget', () => {
    it('should exceed no cap by a single micro-dollar, and the ledger should equal what the upstream received', async () => {
      upstream.received.length = 0;
      const session = await admin.issueKey({ capUsd: 200, expiresIn: '10m', label: 'team/sess_600' });
      const billing = await admin.issueKey({ parentId: session.id, vendor: 'acme', capUsd: 150, label: 'billing' });
      const notify = await admin.issueKey({ parentId: session.id, vendor: 'acme', capUsd: 50, label: 'notify' });
      const members = [billing, notify];
      const calls = Array.from({ length: 600 }, (_, index): WorkerCall & { member: string } => ({
        member: members[index % 2]?.id ?? '',
        vaultKey: members[index % 2]?.vaultKey ?? '',
        path: (index * 7) % 5 < 3 ? '/v1/charges/small' : '/v1/charges/large',
      }));
      const startAt = Date.now() + 200;
      const replies = await Promise.all(
        workers.map((worker, index) =>
          worker.send({
            type: 'run',
            startAt,
            spreadMs: 100,
            calls: calls.filter((_, call) => call % 3 === index).map(({ vaultKey, path }) => ({ vaultKey, path })),
          }),
        ),
      );
      const results = replies.flatMap((reply) => reply.results ?? []);
      expect(results).toHaveLength(600);
      const byStatus = (status: number) => results.filter((result: WorkerCallResult) => result.status === status);
      expect(byStatus(200).length + byStatus(429).length).toBe(600);
      expect(byStatus(429).every((result) => result.code === 'KEYBRAKE_CAP_EXCEEDED')).toBe(true);
      expect(upstream.received).toHaveLength(byStatus(200).length);
      expect(upstream.received.every((request) => request.authorization === `Bearer ${ACME_SECRET}`)).toBe(true);
      // Every process got calls through the same budget.
      expect(new Set(upstream.received.map((request) => request.worker))).toEqual(new Set(['0', '1', '2']));

      const [sessionSpend, billingSpend, notifySpend] = [
        await spend(session.id),
        await spend(billing.id),
        await spend(notify.id),
      ];
      expect((await storage.ledger.balance(session.id, Date.now())).reservedMicros).toBe(0);
      expect(sessionSpend).toBe(upstream.billed());
      expect(billingSpend + notifySpend).toBe(sessionSpend);
      expect(sessionSpend).toBeLessThanOrEqual(200_000_000);
      expect(billingSpend).toBeLessThanOrEqual(150_000_000);
      expect(notifySpend).toBeLessThanOrEqual(50_000_000);
      // Both members ran into their caps: what is left is less than one call.
      expect(150_000_000 - billingSpend).toBeLessThan(toMicroUsd(ACME_PRICES['POST /v1/charges/large']));
      expect(50_000_000 - notifySpend).toBeLessThan(toMicroUsd(ACME_PRICES['POST /v1/charges/large']));

      const audit = await admin.queryAudit({ rootKeyId: session.id, limit: 1000 });
      expect(audit.records).toHaveLength(600);
      expect(audit.totals.reduce((total, entry) => total + entry.spentMicros, 0)).toBe(sessionSpend);
    });
  });

  describe('when a key is revoked through one process', () => {
    it('should deny the very next call through every other process', async () => {
      const session = await admin.issueKey({ capUsd: 20, expiresIn: '10m', label: 'team/sess_revoke' });
      const member = await admin.issueKey({ parentId: session.id, vendor: 'acme', capUsd: 10, label: 'member' });
      const call = { vaultKey: member.vaultKey, path: '/v1/charges/small' };
      for (const worker of workers) {
        expect((await worker.send({ type: 'run', calls: [call] })).results?.[0]?.status).toBe(200);
      }
      const received = upstream.received.length;
      const [revoker, ...others] = workers as [VaultWorker, ...VaultWorker[]];
      expect((await revoker.send({ type: 'revoke', keyId: session.id })).revoked?.sort()).toEqual(
        [session.id, member.id].sort(),
      );
      for (const worker of [...others, revoker]) {
        const [result] = (await worker.send({ type: 'run', calls: [call] })).results ?? [];
        expect(result).toMatchObject({ status: 401, code: 'KEYBRAKE_KEY_REVOKED' });
      }
      expect(upstream.received).toHaveLength(received);
    });
  });

  describe('when a worker is killed mid-traffic', () => {
    it('should count its open reservations as spent after the TTL and keep every acknowledged audit record', async () => {
      upstream.received.length = 0;
      const session = await admin.issueKey({ capUsd: 1000, expiresIn: '10m', label: 'team/sess_crash' });
      const member = await admin.issueKey({ parentId: session.id, vendor: 'acme', capUsd: 1000, label: 'member' });
      const call = { vaultKey: member.vaultKey, path: '/v1/charges/slow' };
      await Promise.all(workers.map((worker) => worker.send({ type: 'stream', call, concurrency: 6 })));
      const [victim, ...survivors] = workers as [VaultWorker, ...VaultWorker[]];
      await expect.poll(() => victim.acks.length, { timeout: 5000, interval: 20 }).toBeGreaterThanOrEqual(6);
      await new Promise((resolve) => setTimeout(resolve, 100));
      await victim.kill();
      const killedAt = Date.now();
      await Promise.all(survivors.map((worker) => worker.send({ type: 'stop' })));

      // The victim had calls in flight: the upstream received (and billed) more than it acknowledged.
      const fromVictim = upstream.received.filter((request) => request.worker === '0');
      expect(fromVictim.length).toBeGreaterThan(victim.acks.length);

      // Before the TTL the victim's unsettled calls are still reserved; after it they count as spent.
      const price = toMicroUsd(ACME_PRICES['POST /v1/charges/slow']);
      const beforeTtl = await storage.ledger.balance(session.id, Date.now());
      expect(beforeTtl.reservedMicros).toBeGreaterThan(0);
      expect(beforeTtl.reservedMicros).toBeLessThanOrEqual(6 * price);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, killedAt + RESERVATION_TTL_MS + 50 - Date.now())));
      const balance = await storage.ledger.balance(session.id, Date.now());
      expect(balance.reservedMicros).toBe(0);
      expect(balance.spentMicros).toBeGreaterThanOrEqual(upstream.billed());
      // Never more than the calls that reserved: at most the victim's unsent reservations on top.
      expect(balance.spentMicros - upstream.billed()).toBeLessThanOrEqual(6 * price);

      const acknowledged = workers.flatMap((worker) => worker.acks.map((ack) => ack.auditId));
      expect(acknowledged.length).toBeGreaterThan(0);
      const audit = await admin.queryAudit({ rootKeyId: session.id, limit: 100_000 });
      const audited = new Set(audit.records.map((record) => record.id));
      expect(acknowledged.filter((id) => !audited.has(id))).toEqual([]);
    });
  });
});
