// A Twilio SMS is settled at Keybrake's estimate and awaits its price. The next GET of the message
// reports the price; Redis goes away after the vault read the pending entry and before the
// settlement that applies the price. The entry must survive, so that the price is applied by a
// later read once Redis is back (Twilio's price can be far above the estimate).
import { randomUUID } from 'node:crypto';
import { createTwilioHttpClient, createVault } from '@keybrake/core';
import { createRedisStorage, type RedisServer, startRedisServer } from '@keybrake/redis';
import { createFakeTwilio, type FakeTwilio } from '@keybrake/testkit';
import twilio from 'twilio';
import { afterAll, beforeAll, expect, it } from 'vitest';

const TWILIO_SID = `AC${'1'.repeat(32)}`;
const TWILIO_TOKEN = 'real_twilio_auth_token_0123456789';

let redis: RedisServer;
let fake: FakeTwilio;
beforeAll(async () => {
  [redis, fake] = await Promise.all([
    startRedisServer({ persistent: true }),
    createFakeTwilio({ accountSid: TWILIO_SID, secret: TWILIO_TOKEN, pricePerSegment: '0.0100' }),
  ]);
});
afterAll(async () => {
  await Promise.all([fake.close(), redis.close()]);
});

it("should still apply Twilio's price once Redis is back, when Redis went away while it was being applied", async () => {
  const storage = createRedisStorage({ url: redis.url, prefix: `late:${randomUUID()}:`, onAuditError: () => {} });
  let outageOnTake = false;
  let outageDone = () => {};
  const outage = new Promise<void>((resolve) => (outageDone = resolve));
  const vault = createVault({
    ...storage,
    keyStore: {
      ...storage.keyStore,
      // The real read; then Redis crashes (SIGKILL; AOF fsynced on every write, so nothing is lost).
      async getPending(ref) {
        const taken = await storage.keyStore.getPending?.(ref);
        if (outageOnTake) {
          outageOnTake = false;
          await redis.stop();
          outageDone();
        }
        return taken;
      },
    },
    secrets: { twilio: { accountSid: TWILIO_SID, authToken: TWILIO_TOKEN } },
    upstreams: { twilio: fake.url },
  });
  try {
    const key = await vault.issueKey({ vendor: 'twilio', capUsd: 1, label: 'notifier' });
    const sms = twilio('AC00000000000000000000000000000000', key.vaultKey, {
      httpClient: createTwilioHttpClient(twilio.RequestClient, { fetch: vault.createFetch() }),
    });
    const message = await sms.messages.create({
      to: '+15005550006',
      from: '+15005550001',
      body: 'Your invoice is paid',
    });
    expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(8_300); // the estimate, price pending

    outageOnTake = true;
    expect((await sms.messages(message.sid).fetch()).price).toBe('-0.01000');
    await outage;
    await new Promise((resolve) => setTimeout(resolve, 200)); // the settlement that follows fails
    await redis.restart();
    await expect
      .poll(
        async () =>
          vault.getKeyStatus(key.id).then(
            () => true,
            () => false,
          ),
        { timeout: 10_000 },
      )
      .toBe(true);
    expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(8_300); // still the estimate

    // Redis is back; the message is read again, and reports its price again.
    expect((await sms.messages(message.sid).fetch()).price).toBe('-0.01000');
    // Twilio billed $0.0100; the ledger must not stay at the $0.0083 estimate.
    expect((await vault.getKeyStatus(key.id)).spentMicros).toBe(10_000);
  } finally {
    await vault.close().catch(() => {});
  }
}, 60_000);
