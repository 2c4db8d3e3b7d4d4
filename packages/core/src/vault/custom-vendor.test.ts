import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CostEstimate, CostModel } from '../costs/cost-model.js';
import { createFixedPriceCostModel } from '../costs/create-fixed-price-cost-model.js';
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createBearerVendor } from '../vendors/create-bearer-vendor.js';
import type { VendorDefinition } from '../vendors/vendor-definition.js';
import { createVault, type Vault } from './create-vault.js';

const SECRET = 'sk_live_custom_SECRET_0123456789abcdef';
const free: CostModel = {
  estimate: () => ({ kind: 'known', micros: 0 }),
  settle: () => ({ kind: 'known', micros: 0 }),
};

describe('a custom vendor', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let vault: Vault | undefined;
  beforeAll(async () => {
    upstream = await startRecordingUpstream((request) => {
      // A vendor (or a gateway) quoting the key it received, decoded: "Invalid API key provided: sk_…".
      const auth = String(request.headers.authorization ?? '');
      const quoted = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8') : auth;
      return {
        status: request.url.startsWith('/lookup') || request.url.startsWith('/v1/charges') ? 200 : 401,
        body: { error: `Invalid API key provided: ${quoted}`, unit_amount: 100 },
      };
    });
  });
  afterEach(async () => {
    await vault?.close();
    vault = undefined;
  });
  afterAll(() => upstream.close());

  const acme = (costModel: CostModel, more: Partial<VendorDefinition<string>> = {}) => ({
    ...createBearerVendor({ name: 'acme', baseUrl: upstream.url, costModel, honorsIdempotencyKey: true }),
    ...more,
  });
  const open = async (definition: VendorDefinition<string>, capUsd = 5) => {
    vault = createVault({ vendors: { acme: definition }, secrets: { acme: SECRET } });
    const key = await vault.issueKey({ vendor: 'acme', capUsd });
    return { vault, key, send: vault.createFetch({ vaultKey: key.vaultKey }) };
  };

  describe('whose secret is sent as the Basic user name (`curl -u sk_live_…:`)', () => {
    it.each([
      ['an empty password', ''],
      ['a dummy password (`-u <key>:X`)', 'X'],
      ['a fixed public password (`-u <token>:x-oauth-basic`)', 'x-oauth-basic'],
    ])('should redact it beside %s when the vendor quotes it back decoded', async (_, password) => {
      const { vault, key, send } = await open(
        acme(free, {
          authorize(request, secret) {
            request.headers.authorization = `Basic ${Buffer.from(`${secret}:${password}`).toString('base64')}`;
            return { path: request.path };
          },
        }),
      );
      const text = await (await send(`${upstream.url}/v1/me`)).text();
      expect(text).toContain('Invalid API key provided: [redacted by keybrake]:');
      expect(text).not.toContain(SECRET);
      expect(JSON.stringify(await vault.queryAudit({ keyId: key.id }))).not.toContain(SECRET);
    });
  });

  describe('whose cost model reads the vendor with `lookup`', () => {
    it('should give the model the answer with an echoed credential redacted', async () => {
      let seen = '';
      const { vault, key, send } = await open(
        acme({
          async estimate(_request, context) {
            seen = JSON.stringify(await context.lookup('/lookup/price'));
            return { kind: 'known', micros: 1000, note: `priced from ${seen}` };
          },
          settle: (_request, _response, estimate) =>
            estimate.kind === 'known' ? estimate : { kind: 'unknown', reason: '' },
        }),
      );
      expect((await send(`${upstream.url}/v1/charges`, { method: 'POST', body: '{}' })).status).toBe(200);
      expect(seen).toContain('Invalid API key provided: Bearer [redacted by keybrake]');
      expect(JSON.stringify(await vault.queryAudit({ keyId: key.id }))).not.toContain(SECRET);
    });
  });

  describe('whose idempotency scope header is spelt as HTTP writes it (`Acme-Account`)', () => {
    it('should count a retry under the same key for another account as a new call', async () => {
      const { vault, key, send } = await open(
        acme(createFixedPriceCostModel({ prices: { 'POST /v1/charges': '5.00' } }), {
          idempotencyScopeHeaders: ['Acme-Account'],
        }),
        50,
      );
      const before = upstream.received.length;
      for (const account of ['acct_1', 'acct_2', 'acct_1']) {
        const response = await send(`${upstream.url}/v1/charges`, {
          method: 'POST',
          body: 'amount=500',
          headers: { 'idempotency-key': 'k1', 'acme-account': account },
        });
        expect(response.status).toBe(200);
      }
      // acct_1's retry is a replay (the vendor answers it from its cache); acct_2's call is new.
      expect(upstream.received.length - before).toBe(3);
      expect((await vault.getKeyStatus(key.id)).spentUsd).toBe(10);
    });
  });

  describe('whose cost model fails or answers with a malformed estimate', () => {
    const cases: Array<[string, CostModel['estimate']]> = [
      ['negative', () => ({ kind: 'known', micros: -5_000_000 })],
      ['not a number', () => ({ kind: 'known', micros: Number.NaN })],
      ['a fraction of a micro-dollar', () => ({ kind: 'known', micros: 0.5 })],
      ['a string', () => ({ kind: 'known', micros: '5000000' as unknown as number })],
      ['beyond a safe integer', () => ({ kind: 'known', micros: 2 ** 60 })],
      ['of another kind', () => ({ kind: 'maybe' }) as unknown as CostEstimate],
      ['undefined', () => undefined as unknown as CostEstimate],
      [
        'thrown',
        () => {
          throw new Error(`boom ${SECRET}`);
        },
      ],
      ['rejected', async () => Promise.reject(new TypeError('boom'))],
    ];
    it.each(cases)(
      'should deny a call whose estimate is %s for good, with nothing sent or counted',
      async (_, estimate) => {
        const { vault, key, send } = await open(acme({ estimate, settle: free.settle }));
        const before = upstream.received.length;

        const response = await send(`${upstream.url}/v1/charges`, { method: 'POST', body: '{}' });

        expect(response.status).toBe(403);
        expect(response.headers.get('x-keybrake-code')).toBe('KEYBRAKE_UNKNOWN_COST');
        expect(response.headers.get('x-should-retry')).toBe('false');
        const text = await response.text();
        expect(text).toContain('the cost model of vendor \\"acme\\"');
        expect(text).not.toContain(SECRET);
        expect(upstream.received.length).toBe(before);
        expect((await vault.getKeyStatus(key.id)).spentUsd).toBe(0);
        const { records } = await vault.queryAudit({ keyId: key.id });
        expect(records[0]?.note).toMatch(/^the cost model (failed|returned a malformed estimate)/);
        expect(JSON.stringify(records)).not.toContain(SECRET);
      },
    );
  });

  describe('made with createBearerVendor', () => {
    it('should refuse a secret with a trailing newline at createVault', () => {
      expect(() => createVault({ vendors: { acme: acme(free) }, secrets: { acme: `${SECRET}\n` } })).toThrow(
        InvalidPolicyError,
      );
      expect(() => createVault({ vendors: { acme: acme(free) }, secrets: { acme: `${SECRET}\n` } })).not.toThrow(
        SECRET,
      );
    });

    it('should tell Stainless-generated SDKs (OpenAI, Anthropic) not to retry a cap denial', async () => {
      const { send } = await open(acme(createFixedPriceCostModel({ prices: { 'POST /**': '5.00' } })), 1);
      const response = await send(`${upstream.url}/v1/chat/completions`, { method: 'POST', body: '{}' });
      expect(response.status).toBe(429);
      expect(response.headers.get('x-should-retry')).toBe('false');
    });
  });
});
