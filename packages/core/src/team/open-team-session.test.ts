import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createFixedPriceCostModel } from '../costs/create-fixed-price-cost-model.js';
import { runCappedTool } from '../fetch/run-capped-tool.js';
import { createMemoryKeyStore } from '../storage/create-memory-key-store.js';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createVault } from '../vault/create-vault.js';
import { createBearerVendor } from '../vendors/create-bearer-vendor.js';
import { openTeamSession } from './open-team-session.js';

describe('openTeamSession', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  beforeAll(async () => {
    // A charge to /slow-charge is answered after 300 ms: a call still at the vendor.
    // A vendor answering 401 with Keybrake's own header, as a Keybrake proxy used as the upstream would.
    upstream = await startRecordingUpstream((request) => {
      if (request.url.startsWith('/slow')) return { delayMs: 300 };
      if (request.url.startsWith('/echo-revoked')) {
        return { status: 401, delayMs: 300, headers: { 'x-keybrake-code': 'KEYBRAKE_KEY_REVOKED' } };
      }
      return {};
    });
  });
  afterAll(() => upstream.close());

  const makeVault = (options: Pick<Parameters<typeof createVault>[0] & {}, 'now' | 'keyStore'> = {}) => {
    const costModel = createFixedPriceCostModel({
      prices: { 'POST /charge': 10, 'POST /slow-charge': 10, 'POST /echo-revoked': 10, 'POST /sms': 1, 'GET /**': 0 },
    });
    return createVault({
      vendors: {
        pay: createBearerVendor({ name: 'pay', baseUrl: upstream.url, costModel }),
        sms: createBearerVendor({ name: 'sms', baseUrl: upstream.url, costModel }),
      },
      secrets: { pay: 'sk_pay_secret', sms: 'sk_sms_secret' },
      ...options,
    });
  };

  /**
   * A vault whose price read waits until `open()` (as a Stripe estimate reading a PaymentIntent
   * does), the first time: a refresh lands after the key was checked. `pricing` says it is waiting.
   */
  const makeGatedVault = () => {
    const gate = { pricing: false, open: () => {} };
    let gated = true;
    let release = () => {};
    gate.open = () => {
      gated = false;
      release();
    };
    const vault = createVault({
      vendors: {
        pay: createBearerVendor({
          name: 'pay',
          baseUrl: upstream.url,
          costModel: {
            async estimate() {
              gate.pricing = true;
              if (gated) await new Promise<void>((resolve) => (release = resolve));
              return { kind: 'known', micros: 1_000_000 };
            },
            settle: () => ({ kind: 'known', micros: 1_000_000 }),
          },
        }),
      },
      secrets: { pay: 'sk_pay_secret' },
    });
    return { vault, gate };
  };

  describe('when a billing team is opened', () => {
    it('should give each member its own sub-capped key under the session cap', async () => {
      const vault = makeVault();
      const team = await openTeamSession(vault, {
        label: 'billing-team/sess_1',
        capUsd: 200,
        ttl: '1h',
        members: {
          billing: { vendor: 'pay', capUsd: 150, allowedEndpoints: ['POST /charge', 'GET /customers/*'] },
          notifications: { vendor: 'sms', capUsd: 50, shareKeysOf: ['billing'] },
        },
      });
      const billing = team.member('billing');
      const notifications = team.member('notifications');
      expect(Object.keys(notifications.keys).sort()).toEqual(['pay', 'sms']);
      expect(JSON.stringify(team.members)).not.toContain('kb_test_');

      const charges = await Promise.all(
        Array.from({ length: 20 }, () => billing.fetch()('http://x/charge', { method: 'POST' })),
      );
      expect(charges.filter((response) => response.status === 200)).toHaveLength(15);
      const lookup = await notifications.fetch('pay')('http://x/customers/cus_1');
      expect(lookup.status).toBe(200);
      const texts = await Promise.all(
        Array.from({ length: 60 }, () => notifications.fetch('sms')('http://x/sms', { method: 'POST' })),
      );
      expect(texts.filter((response) => response.status === 200)).toHaveLength(50);

      expect(await team.status()).toMatchObject({ spentUsd: 200, remainingUsd: 0 });
      const audit = await team.audit();
      expect(audit.totals.find((total) => total.label === 'billing-team/sess_1/billing')).toMatchObject({
        allowed: 16,
        denied: 5,
        spentMicros: 150_000_000,
      });
      const shared = audit.records.find((record) => record.path === '/customers/cus_1');
      expect(shared?.actor?.member).toBe('notifications');
      expect(audit.memberTotals.find((total) => total.member === 'notifications')).toMatchObject({
        calls: 61,
        allowed: 51,
        denied: 10,
        spentMicros: 50_000_000,
      });

      await team.close();
      expect((await billing.fetch()('http://x/customers/cus_2')).status).toBe(401);
      await vault.close();
    });
  });

  describe('when a member holds keys for several vendors', () => {
    it('should ask for the vendor instead of picking one, and default to its own beside shared keys', async () => {
      const vault = makeVault();
      const team = await openTeamSession(vault, {
        label: 'team/multi',
        capUsd: 100,
        members: {
          ops: { vendor: ['sms', 'pay'], capUsd: 50 },
          notify: { vendor: 'sms', shareKeysOf: ['billing'] },
          billing: { vendor: 'pay' },
        },
      });
      const ops = team.member('ops');
      const before = upstream.received.length;
      expect(() => ops.key()).toThrow(/holds keys for several vendors \(sms, pay\): name one/);
      await expect(ops.fetch()('http://x/sms', { method: 'POST' })).rejects.toThrow(/name one/);
      expect(ops.key('pay').keyId).toBe(ops.keys.pay?.keyId);
      // Its own vendor, not the shared one.
      expect(team.member('notify').key().keyId).toBe(team.member('notify').keys.sms?.keyId);
      expect(upstream.received).toHaveLength(before);
      await team.close();
      await vault.close();
    });
  });

  describe('when a member key is refreshed', () => {
    it('should keep its budget across the refresh and keep existing fetches working', async () => {
      const vault = makeVault();
      const team = await openTeamSession(vault, {
        label: 'team/sess_2',
        capUsd: 100,
        ttl: '2h',
        members: { billing: { vendor: 'pay', capUsd: 50, keyTtl: '10m' } },
      });
      const billing = team.member('billing');
      const send = billing.fetch();
      expect((await send('http://x/charge', { method: 'POST' })).status).toBe(200);
      const oldKey = billing.key().keyId;
      await billing.refresh({ expiresIn: '30m' });
      expect(billing.key().keyId).not.toBe(oldKey);
      expect(
        (await billing.status()).caps.find((cap) => cap.kind === 'total' && cap.keyId === billing.keyId),
      ).toMatchObject({ capUsd: 50, spentUsd: 10, remainingUsd: 40 });
      const results = await Promise.all(Array.from({ length: 6 }, () => send('http://x/charge', { method: 'POST' })));
      expect(results.filter((response) => response.status === 200)).toHaveLength(4);
      expect((await vault.getKeyStatus(oldKey)).revoked).toBe(true);
      await team.close();
      await expect(billing.refresh()).rejects.toThrow(/cannot be refreshed: its team session is closed/);
      await vault.close();
    });
  });

  describe('when a member is refreshed while one of its calls is still being checked', () => {
    it('should revoke the old key at once and still send that call, with the new key', async () => {
      const vault = makeVault();
      const team = await openTeamSession(vault, {
        label: 'team/refresh-in-flight',
        capUsd: 100,
        members: { billing: { vendor: 'pay', capUsd: 50 } },
      });
      const billing = team.member('billing');
      const oldKey = billing.key().keyId;
      // A body still streaming: the vault has not checked the key yet when the refresh lands.
      let finish = () => {};
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          finish = () => {
            controller.enqueue(new TextEncoder().encode('amount=1'));
            controller.close();
          };
        },
      });
      const call = billing.fetch()('http://x/charge', { method: 'POST', body, duplex: 'half' } as RequestInit);
      // The refresh does not wait for the call: a tool may refresh before it ends its own body.
      await billing.refresh();
      expect((await vault.getKeyStatus(oldKey)).revoked).toBe(true);
      finish();
      expect((await call).status).toBe(200);
      expect(await billing.status()).toMatchObject({ spentUsd: 10 });
      const { records } = await team.audit();
      expect(records.map((record) => [record.keyId, record.decision])).toEqual([[billing.key().keyId, 'allowed']]);
      await team.close();
      await vault.close();
    });
  });

  describe('when a member with maxCalls: 1 is refreshed while its one call is being priced', () => {
    it('should send that call once with the new key, not refuse it as over maxCalls', async () => {
      // The refresh lands after the key was checked: the vault finds it revoked after reserving.
      const { vault, gate } = makeGatedVault();
      const team = await openTeamSession(vault, {
        label: 'team/max-calls-refresh',
        capUsd: 100,
        members: { billing: { vendor: 'pay', capUsd: 50, maxCalls: 1 } },
      });
      const billing = team.member('billing');
      const before = upstream.received.length;
      const call = billing.fetch()('http://x/charge', { method: 'POST', body: 'amount=1' });
      await vi.waitFor(() => expect(gate.pricing).toBe(true));
      await billing.refresh();
      gate.open();
      expect((await call).status).toBe(200);
      expect(upstream.received.length - before).toBe(1);
      expect(await billing.status()).toMatchObject({ calls: 1, spentUsd: 1 });
      await team.close();
      await vault.close();
    });
  });

  describe("when a member's call is sent again after a refresh", () => {
    it("should not send again a call the vendor answered, whatever Keybrake headers the vendor's answer carries", async () => {
      const vault = makeVault();
      const team = await openTeamSession(vault, {
        label: 'team/echo',
        capUsd: 100,
        members: { billing: { vendor: 'pay', capUsd: 50 } },
      });
      const billing = team.member('billing');
      const before = upstream.received.length;
      const call = billing.fetch()('http://x/echo-revoked', { method: 'POST', body: 'amount=1' });
      await vi.waitFor(() => expect(upstream.received).toHaveLength(before + 1)); // at the vendor
      await billing.refresh();
      const response = await call;
      expect(response.status).toBe(401);
      expect(response.headers.get('x-keybrake-code')).toBeNull();
      expect(upstream.received).toHaveLength(before + 1);
      expect((await team.audit()).records.filter((record) => record.decision === 'allowed')).toHaveLength(1);
      await team.close();
      await vault.close();
    });

    it('should give up a stalled body when the caller aborts, as the capped fetch does', async () => {
      const vault = makeVault();
      const team = await openTeamSession(vault, {
        label: 'team/abort',
        capUsd: 100,
        members: { billing: { vendor: 'pay', capUsd: 50 } },
      });
      const controller = new AbortController();
      const body = new ReadableStream<Uint8Array>({ start() {} }); // never ends
      const call = team.member('billing').fetch()('http://x/charge', {
        method: 'POST',
        body,
        duplex: 'half',
        signal: controller.signal,
      } as RequestInit);
      setTimeout(() => controller.abort(), 20);
      await expect(call).rejects.toMatchObject({ name: 'AbortError' });
      await team.close();
      await vault.close();
    });

    it('should send the bytes the caller gave, not what its buffer holds later', async () => {
      // Its price read is slow the first time: the refresh lands meanwhile.
      const { vault, gate } = makeGatedVault();
      const team = await openTeamSession(vault, {
        label: 'team/buffer',
        capUsd: 100,
        members: { billing: { vendor: 'pay', capUsd: 50 } },
      });
      const billing = team.member('billing');
      const before = upstream.received.length;
      const bytes = new TextEncoder().encode('amount=100');
      const call = billing.fetch()('http://x/buffered', { method: 'POST', body: bytes });
      bytes.set(new TextEncoder().encode('amount=999')); // fetch copied it when called
      await billing.refresh();
      gate.open();
      expect((await call).status).toBe(200);
      expect(upstream.received.slice(before).map((request) => request.body)).toEqual(['amount=100']);
      await team.close();
      await vault.close();
    });
  });

  // The first attempt's KEY_REVOKED denial must not stay in the tool run: the call went through
  // with the new key, and the denial would stop the run (or its supervisor's).
  describe('when a call sent again after a refresh runs inside a tool run', () => {
    it('should let an unrelated tool error through, since the call went through with the new key', async () => {
      const { vault, gate } = makeGatedVault();
      const team = await openTeamSession(vault, {
        label: 'team/h1',
        capUsd: 100,
        members: { billing: { vendor: 'pay', capUsd: 50 } },
      });
      const billing = team.member('billing');
      const toolError = new Error('the tool could not parse its own input');
      const run = runCappedTool({ member: 'billing', tool: 'charge', toolCallId: 'call_1' }, async () => {
        const response = await billing.fetch()('http://x/charge', { method: 'POST', body: 'amount=1' });
        expect(response.status).toBe(200); // sent again with the new key, transparently
        throw toolError; // a failure of the tool's own, nothing to do with Keybrake
      });
      await vi.waitFor(() => expect(gate.pricing).toBe(true));
      await billing.refresh();
      gate.open();
      // Not KeyRevokedError: the call went through with the new key, so the model must not read that
      // its key was revoked and retrying will not help.
      const got1 = await run.catch((e: unknown) => e);
      expect((got1 as { code?: string }).code).toBeUndefined();
      expect(got1).toBe(toolError);
      await team.close();
      await vault.close();
    });

    it('should not report the member as stopped to a supervisor when its call succeeded', async () => {
      const { vault, gate } = makeGatedVault();
      const team = await openTeamSession(vault, {
        label: 'team/h2',
        capUsd: 100,
        members: { billing: { vendor: 'pay', capUsd: 50 } },
      });
      const billing = team.member('billing');
      // A supervisor tool that runs the member's tool, then fails for an unrelated reason.
      const supervisorError = new Error('supervisor model error');
      const run = runCappedTool({ member: 'supervisor', tool: 'delegate', toolCallId: 'sup_1' }, async () => {
        const ok = await runCappedTool({ member: 'billing', tool: 'charge', toolCallId: 'call_1' }, async () => {
          const response = await billing.fetch()('http://x/charge', { method: 'POST', body: 'amount=1' });
          return response.status;
        });
        expect(ok).toBe(200);
        throw supervisorError;
      });
      await vi.waitFor(() => expect(gate.pricing).toBe(true));
      await billing.refresh();
      gate.open();
      const got2 = await run.catch((e: unknown) => e);
      expect((got2 as { code?: string }).code).toBeUndefined();
      expect(got2).toBe(supervisorError);
      await team.close();
      await vault.close();
    });
  });

  describe('when a team is closed while a member call is at the vendor', () => {
    it('should count that call in the status and audit read once close() resolves', async () => {
      const vault = makeVault();
      const team = await openTeamSession(vault, {
        label: 'team/close-in-flight',
        capUsd: 100,
        members: { billing: { vendor: 'pay', capUsd: 50 } },
      });
      const inFlight = team.member('billing').fetch()('http://x/slow-charge', { method: 'POST' });
      await vi.waitFor(() => expect(upstream.received.some((request) => request.url === '/slow-charge')).toBe(true));
      await team.close();
      const [status, audit] = await Promise.all([team.status(), team.audit()]);
      expect(status).toMatchObject({ spentUsd: 10, reservedUsd: 0 });
      expect(audit.records.map((record) => [record.path, record.decision])).toEqual([['/slow-charge', 'allowed']]);
      expect((await inFlight).status).toBe(200);
      await vault.close();
    });
  });

  describe('when a member is refreshed while its agents keep calling', () => {
    it('should never let the member spend past its cap across the old and the new key', async () => {
      upstream.received.length = 0;
      const store = createMemoryKeyStore();
      // Slow key writes widen the window between reading the budget and switching keys.
      const slowStore = {
        ...store,
        create: async (record: Parameters<typeof store.create>[0]) => {
          await new Promise((resolve) => setTimeout(resolve, 30));
          return store.create(record);
        },
      };
      const costModel = createFixedPriceCostModel({ prices: { 'POST /charge': 10 } });
      const vault = createVault({
        keyStore: slowStore,
        vendors: { pay: createBearerVendor({ name: 'pay', baseUrl: upstream.url, costModel }) },
        secrets: { pay: 'sk_pay_secret' },
      });
      const team = await openTeamSession(vault, {
        label: 'team/race',
        capUsd: 1000,
        members: { billing: { vendor: 'pay', capUsd: 100 } },
      });
      const billing = team.member('billing');
      const send = billing.fetch();
      // Four agents, a call each every 10–20 ms: the budget lasts past the refresh's start.
      const agent = async () => {
        for (;;) {
          await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 10));
          if ((await send('http://x/charge', { method: 'POST' })).status === 429) return;
        }
      };
      const agents = Promise.all(Array.from({ length: 4 }, agent));
      await new Promise((resolve) => setTimeout(resolve, 15));
      await billing.refresh();
      await agents;
      expect(upstream.received.length).toBe(10);
      expect((await billing.status()).spentUsd).toBe(100);
      await team.close();
      await vault.close();
    });
  });

  describe('when a member with call and daily limits is refreshed', () => {
    it('should keep counting its calls and today against the same limits, not grant them anew', async () => {
      const vault = makeVault();
      const team = await openTeamSession(vault, {
        label: 'team/sess_3',
        capUsd: 1000,
        members: {
          calls: { vendor: 'pay', capUsd: 500, maxCalls: 3 },
          daily: { vendor: 'pay', capUsd: 500, dailyCapUsd: 20 },
        },
      });
      const allowed = async (name: string, count: number) => {
        const send = team.member(name).fetch();
        const responses = await Promise.all(
          Array.from({ length: count }, () => send('http://x/charge', { method: 'POST' })),
        );
        return responses.filter((response) => response.status === 200).length;
      };
      expect(await allowed('calls', 2)).toBe(2);
      await team.member('calls').refresh();
      expect(await allowed('calls', 3)).toBe(1); // 3 calls in all, across the refresh
      await team.member('calls').refresh(); // none left: still none
      expect(await allowed('calls', 1)).toBe(0);

      expect(await allowed('daily', 1)).toBe(1); // $10 of today's $20
      await team.member('daily').refresh();
      expect(await allowed('daily', 3)).toBe(1);
      await team.close();
      await vault.close();
    });
  });

  describe('when the plan is inconsistent', () => {
    it('should refuse it, naming the member, before anything is written to the store', async () => {
      const keyStore = createMemoryKeyStore();
      let created = 0;
      const vault = makeVault({
        keyStore: {
          ...keyStore,
          create: (record) => {
            created += 1;
            return keyStore.create(record);
          },
        },
      });
      const refused: Array<[Parameters<typeof openTeamSession>[1]['members'], RegExp, Partial<{ ttl: string }>?]> = [
        [{ a: { vendor: 'pay', capUsd: 20 } }, /member "a"'s cap \(\$20\) is above the session's \(\$10\)/],
        [{}, /it names no members/],
        [{ a: { vendor: 'pay', shareKeysOf: ['zz'] } }, /member "a" shares keys of unknown member "zz"/],
        [{ a: { vendor: 'pay', shareKeysOf: ['toString'] } }, /unknown member "toString"/],
        [{ a: { vendor: 'pay' }, b: { vendor: 'strpe' } }, /member "b" names unknown vendor "strpe"/],
        [{ a: { vendor: ['pay', 'pay'] } }, /member "a" names vendor "pay" twice/],
        [
          { a: { vendor: 'pay' }, b: { vendor: 'pay', shareKeysOf: ['a'] } },
          /member "b" would hold two pay keys, its own and "a"'s/,
        ],
        [
          { a: { vendor: 'pay' }, b: { vendor: 'pay' }, c: { vendor: 'sms', shareKeysOf: ['a', 'b'] } },
          /member "c" would hold two pay keys, "a"'s and "b"'s/,
        ],
        [{ a: { vendor: 'pay', allowedEndpoints: { Pay: ['GET /customers/*'] } } }, /name "Pay", which is not one of/],
        [{ a: { vendor: ['pay', 'sms'], allowedEndpoints: { pay: ['POST /charge'] } } }, /give no list for "sms"/],
        [{ a: { vendor: 'pay', keyTtl: '2h' } }, /keyTtl \(2h\) is longer than the session's ttl \(1h\)/],
        [{ a: { vendor: 'pay', dailyCapUsd: 20 } }, /daily cap \(\$20\) is above the session's \(\$15\)/],
        [{ [`m${'x'.repeat(60)}`]: { vendor: 'pay' } }, /labels would pass 200 characters/],
        [
          { a: { vendor: 'pay' }, b: { vendor: 'pay', allowedEndpoints: ['charge'] } },
          /member "b"'s allowedEndpoints: Invalid allowed endpoint "charge"/,
        ],
        [{ a: { vendor: 'pay', maxCalls: 1.5 } }, /member "a"'s maxCalls must be a whole number/],
        [{ a: { vendor: 'pay', perCallMaxUsd: '1e3' } }, /member "a"'s perCallMaxUsd: Invalid USD amount/],
        [{ a: { vendor: 'pay', keyTtl: 'soon' } }, /member "a"'s keyTtl: Invalid duration/],
        // Loose values from JSON: never a TypeError, never "every endpoint".
        [{ a: { vendor: 'pay', allowedEndpoints: null as never } }, /member "a"'s allowedEndpoints must be a list/],
        [
          { a: { vendor: ['pay', 'sms'], allowedEndpoints: { pay: ['POST /charge'], sms: undefined as never } } },
          /member "a"'s allowedEndpoints must hold a list for each vendor/,
        ],
        [{ a: { vendor: 'pay', capUsd: null as never } }, /member "a"'s capUsd: Invalid USD amount null/],
      ];
      for (const [members, message] of refused) {
        const label = members[`m${'x'.repeat(60)}`] ? 'l'.repeat(140) : 't';
        await expect(openTeamSession(vault, { label, capUsd: 10, dailyCapUsd: 15, members })).rejects.toThrow(message);
      }
      expect(created).toBe(0);
      await vault.close();
    });
  });

  describe('when a member is refreshed twice at once, or near the end of the session', () => {
    it('should leave exactly one live key, and give a late key the rest of the session', async () => {
      let now = Date.UTC(2030, 0, 1);
      const vault = makeVault({ now: () => now });
      const team = await openTeamSession(vault, {
        label: 'team/refresh',
        capUsd: 100,
        ttl: '1h',
        members: { billing: { vendor: 'pay', capUsd: 50, keyTtl: '10m' } },
      });
      const billing = team.member('billing');
      await Promise.all([billing.refresh(), billing.refresh(), billing.refresh()]);
      const live: string[] = [];
      for (const id of (await billing.status()).children) if (!(await vault.getKeyStatus(id)).revoked) live.push(id);
      expect(live).toEqual([billing.key().keyId]);

      now += 55 * 60_000; // 5 minutes of the session left, under the 10-minute keyTtl
      await billing.refresh();
      expect(billing.key().expiresAt).toBe(team.expiresAt);
      expect(() => team.member('constructor')).toThrow(/No member "constructor"/);
      expect(() => billing.key('constructor')).toThrow(/holds no constructor key/);
      expect(Object.getPrototypeOf(billing.keys)).toBe(Object.prototype); // an ordinary object still
      await expect(billing.fetch('toString')('http://x/charge', { method: 'POST' })).rejects.toThrow(
        /holds no toString key/,
      );
      // Past the session's end, or once it is closed: said of the session, not as a call's denial.
      now += 6 * 60_000;
      await expect(billing.refresh()).rejects.toThrow(
        /^Member "billing" cannot be refreshed: its team session is expired/,
      );
      await team.close();
      await expect(billing.refresh()).rejects.toThrow(/cannot be refreshed: its team session is (closed|expired)/);
      await vault.close();
    });
  });
});
