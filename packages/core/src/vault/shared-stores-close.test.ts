import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createJsonlAuditSink } from '../audit/create-jsonl-audit-sink.js';
import { createFixedPriceCostModel } from '../costs/create-fixed-price-cost-model.js';
import { createMemoryLedger } from '../ledger/create-memory-ledger.js';
import { createMemoryKeyStore } from '../storage/create-memory-key-store.js';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createBearerVendor } from '../vendors/create-bearer-vendor.js';
import { createVault } from './create-vault.js';

describe('one JSONL audit sink, key store and ledger shared by two vaults', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  let dir: string;
  beforeAll(async () => {
    upstream = await startRecordingUpstream();
    dir = await mkdtemp(join(tmpdir(), 'kb-shared-'));
  });
  afterAll(async () => {
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("should still audit the other vault's calls after one vault closes", async () => {
    const path = join(dir, 'audit.jsonl');
    const errors: string[] = [];
    const audit = createJsonlAuditSink({ path, onError: (error) => errors.push(error.message) });
    const keyStore = createMemoryKeyStore();
    const ledger = createMemoryLedger(); // its close() keeps the totals: "a ledger shared by several vaults"
    const costModel = createFixedPriceCostModel({ prices: { 'POST /charge': 10 } });
    const make = () =>
      createVault({
        vendors: { pay: createBearerVendor({ name: 'pay', baseUrl: upstream.url, costModel }) },
        secrets: { pay: 'sk_pay_secret' },
        keyStore,
        ledger,
        audit,
      });
    const a = make();
    const b = make();
    const key = await b.issueKey({ vendor: 'pay', capUsd: 50 });
    await a.close(); // e.g. a worker's vault shut down; the app's vault keeps serving

    const before = upstream.received.length;
    const response = await b.createFetch({ vaultKey: key.vaultKey })('http://x/charge', { method: 'POST' });
    expect(response.status).toBe(200);
    expect(upstream.received.length - before).toBe(1); // the money moved
    expect((await b.getKeyStatus(key.id)).spentUsd).toBe(10); // and the ledger counted it
    await b.close().catch(() => {});
    // And its audit record is written, not dropped by a sink the first vault closed.
    expect(errors).toEqual([]);
    const lines = (await readFile(path, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
  });
});
