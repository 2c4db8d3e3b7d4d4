// Two `keybrake serve` replicas on one Redis (KEYBRAKE_REDIS_URL): one budget, whichever replica a call hits.

import { type RedisServer, startRedisServer } from '@keybrake/redis';
import type { CliIo } from '@keybrake/server';
import { runCli } from '@keybrake/server';
import { createFakeStripe } from '@keybrake/testkit';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ADMIN_TOKEN = 'redis-admin-token-0123456789abcdef';
const STRIPE_SECRET = 'sk_test_51RedisReplicasShareThisSecret01';

async function startReplica(redisUrl: string, stripeUrl: string, extraEnv: Record<string, string> = {}) {
  let output = '';
  let stop: (signal: string) => void = () => {};
  const io: CliIo = {
    stdout: (text) => {
      output += text;
    },
    stderr: (text) => {
      output += text;
    },
    env: {
      KEYBRAKE_ADMIN_TOKEN: ADMIN_TOKEN,
      KEYBRAKE_REDIS_URL: redisUrl,
      STRIPE_SECRET_KEY: STRIPE_SECRET,
      ...extraEnv,
    },
    waitForShutdown: () => new Promise((resolve) => (stop = resolve)),
  };
  const exit = runCli({
    argv: ['serve', '--port', '0', '--upstream', `stripe=${stripeUrl}`, '--log-level', 'silent'],
    ...io,
  });
  const started = Date.now();
  while (!/listening on http/.test(output)) {
    if (Date.now() - started > 10_000) throw new Error(`keybrake serve did not start: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const url = /listening on (\S+)/.exec(output)?.[1] ?? '';
  return {
    url,
    output: () => output,
    stop: () => {
      stop('SIGTERM');
      return exit;
    },
  };
}

describe('runCli', () => {
  let redis: RedisServer;
  let fakeStripe: Awaited<ReturnType<typeof createFakeStripe>>;
  let replicas: Array<Awaited<ReturnType<typeof startReplica>>>;

  beforeAll(async () => {
    [redis, fakeStripe] = await Promise.all([startRedisServer(), createFakeStripe({ secret: STRIPE_SECRET })]);
    replicas = await Promise.all([startReplica(redis.url, fakeStripe.url), startReplica(redis.url, fakeStripe.url)]);
  });
  afterAll(async () => {
    await Promise.all([redis?.close(), fakeStripe?.close()]);
  });

  describe('when two `keybrake serve` replicas share KEYBRAKE_REDIS_URL and a key issued on one spends through both', () => {
    it('should hold one cap across the replicas and stop gracefully', async () => {
      const [first, second] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
      const issued = await fetch(`${first.url}/vault/keys`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify({ vendor: 'stripe', cap_usd: 50, agent_run_label: 'replicated' }),
      }).then((response) => response.json() as Promise<{ id: string; vault_key: string }>);
      const clients = [first, second].map(({ url }) => {
        const { hostname, port } = new URL(url);
        return new Stripe(issued.vault_key, { host: hostname, port, protocol: 'http', maxNetworkRetries: 2 });
      });
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, index) =>
          clients[index % 2]?.paymentIntents.create({
            amount: 500,
            currency: 'usd',
            confirm: true,
            payment_method: 'pm_card_visa',
          }),
        ),
      );
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(10);
      expect(fakeStripe.moneyMoved()).toHaveLength(10);
      const status = await fetch(`${second.url}/vault/keys/${issued.id}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      }).then((response) => response.json() as Promise<{ spent_usd: number; calls: number }>);
      expect(status).toMatchObject({ spent_usd: 50, calls: 10 });
      expect(await Promise.all([first.stop(), second.stop()])).toEqual([0, 0]);
    });
  });

  describe('when a test and a live replica share one Redis', () => {
    it("should keep each mode's keys, spend and audit apart", async () => {
      const [test, live] = await Promise.all([
        startReplica(redis.url, fakeStripe.url),
        startReplica(redis.url, fakeStripe.url, {
          KEYBRAKE_MODE: 'live',
          STRIPE_SECRET_KEY: 'sk_live_51RedisReplicasShareThisSecret01',
        }),
      ]);
      try {
        const admin = (url: string, method: string, path: string, body?: unknown) =>
          fetch(`${url}${path}`, {
            method,
            headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
            body: body === undefined ? undefined : JSON.stringify(body),
          });
        const session = (await (
          await admin(test.url, 'POST', '/vault/keys', { cap_usd: 100, agent_run_label: 'staging' })
        ).json()) as { id: string };
        expect((await admin(live.url, 'GET', `/vault/keys/${session.id}`)).status).toBe(404);
        expect(
          (await admin(live.url, 'POST', '/vault/keys', { parent_id: session.id, vendor: 'stripe', cap_usd: 1 }))
            .status,
        ).toBe(400);
        expect((await admin(live.url, 'DELETE', `/vault/keys/${session.id}`)).status).toBe(404);
        const liveAudit = (await (await admin(live.url, 'GET', '/vault/audit?limit=1000')).json()) as {
          records: unknown[];
        };
        expect(liveAudit.records).toEqual([]);
        expect((await admin(test.url, 'GET', `/vault/keys/${session.id}`)).status).toBe(200);
      } finally {
        expect(await Promise.all([test.stop(), live.stop()])).toEqual([0, 0]);
      }
    });
  });

  describe('when Redis is down at shutdown with audit records still queued', () => {
    it('should exit 1 and say how many audit records were lost, not crash', async () => {
      const own = await startRedisServer();
      try {
        const replica = await startReplica(own.url, fakeStripe.url);
        const issued = await fetch(`${replica.url}/vault/keys`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
          body: JSON.stringify({ vendor: 'stripe', cap_usd: 10 }),
        }).then((response) => response.json() as Promise<{ vault_key: string }>);
        await own.stop();
        const denied = await fetch(`${replica.url}/v1/payment_intents`, {
          method: 'POST',
          headers: { authorization: `Bearer ${issued.vault_key}` },
          body: 'amount=100&currency=usd',
        });
        expect(denied.status).toBe(503);
        // A replica that can only deny is not healthy for a load balancer.
        const health = await fetch(`${replica.url}/healthz`);
        expect(health.status).toBe(503);
        expect(await health.json()).toMatchObject({ status: 'degraded', storage: 'unreachable' });
        expect(await replica.stop()).toBe(1);
        expect(replica.output()).toMatch(
          /keybrake: stopped, but closing failed: .*1 audit record\(s\) it could not write; they are lost\./,
        );
        expect(replica.output()).not.toContain(STRIPE_SECRET);
      } finally {
        await own.close();
      }
    });
  });
});
