// The vault's own cost, without sockets: `vault.handle` and the capped fetch against an in-process
// dispatcher that answers at once with the benchmark upstream's PaymentIntent. Machine noise and
// the HTTP client's cost drop out, so this is the figure to track from one change to the next.

import { type AuditRecord, type AuditSink, createMemoryAuditSink, createVault } from '@keybrake/core';
import type { Dispatcher } from 'undici';
import { PAYMENT_BODY, sendPayment, setupKeys } from './setup-keys.js';
import { PAYMENT_INTENT_BODY } from './upstream-body.js';

/** CPU µs (user + system, including V8's helper threads) per call, sequential, after a warm-up. */
export interface VaultCpu {
  handle: number;
  cappedFetch: number;
}

function inProcessDispatcher(): Dispatcher {
  const body = Buffer.from(PAYMENT_INTENT_BODY);
  const answer = {
    statusCode: 200,
    headers: {
      'content-type': 'application/json',
      'content-length': String(body.byteLength),
      'request-id': 'req_bench',
    },
    body: { arrayBuffer: async () => body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) },
  };
  return { request: async () => answer, close: async () => {} } as unknown as Dispatcher;
}

async function cpuPerCall(
  call: () => Promise<number>,
  calls: number,
  warmup = Math.min(calls, 20_000),
): Promise<number> {
  for (let index = 0; index < warmup; index++) {
    if ((await call()) !== 200) throw new Error('the vault denied a benchmark call');
  }
  const start = process.cpuUsage();
  for (let index = 0; index < calls; index++) await call();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / calls;
}

/** Measures {@link VaultCpu} with the benchmark's keys (3-level chain, 10,000 live keys). */
export async function measureVaultCpu(calls = 100_000): Promise<VaultCpu> {
  const vault = createVault({
    secrets: { stripe: 'sk_test_bench' },
    upstreams: { stripe: 'http://127.0.0.1:9' },
    dispatcher: inProcessDispatcher(),
  });
  try {
    const vaultKey = await setupKeys(vault);
    const body = Buffer.from(PAYMENT_BODY);
    const headers = { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${vaultKey}` };
    const handle = await cpuPerCall(
      async () => (await vault.handle({ method: 'POST', path: '/v1/payment_intents', headers, body })).status,
      calls,
    );
    const cappedFetch = vault.createFetch({ vaultKey });
    const fetchCpu = await cpuPerCall(() => sendPayment(cappedFetch), calls);
    return { handle, cappedFetch: fetchCpu };
  } finally {
    await vault.close();
  }
}

/** `vault.handle` CPU µs per call by live keys in the store, and by audit records already held. */
export interface VaultScaling {
  /** Live keys (the 3-level chain plus other keys) → µs per call. */
  liveKeys: Record<number, number>;
  /** Records in the default in-memory audit sink before the measured calls (its ring holds 100,000) → µs per call. */
  auditRecords: Record<number, number>;
}

const KEY_COUNTS = [10, 10_000, 100_000];
const RING = 100_000;

/**
 * Measures {@link VaultScaling}: the same call on vaults holding 10, 10,000 and 100,000 live keys,
 * and with an empty audit sink against a full one (its 100,000-record ring, the default), each
 * point measured `rounds` times in short turns with the others (median), so drift in the machine's
 * speed falls on every point alike. Flat figures mean the cost does not grow with the key count or
 * the audit's size.
 */
export async function measureVaultScaling(calls = 8_000, rounds = 9): Promise<VaultScaling> {
  const dispatcher = inProcessDispatcher();
  const body = Buffer.from(PAYMENT_BODY);
  // The audit points share one vault whose sink is swapped between an empty one and a full one.
  let sink: AuditSink = createMemoryAuditSink();
  const swappable: AuditSink = {
    write: (record: AuditRecord) => sink.write(record),
    query: (query) => sink.query(query),
    flush: () => sink.flush(),
  };
  const points: {
    name: string;
    call: () => Promise<number>;
    before?: () => void;
    vault: ReturnType<typeof createVault>;
  }[] = [];
  for (const liveKeys of KEY_COUNTS) {
    const vault = createVault({
      secrets: { stripe: 'sk_test_bench' },
      upstreams: { stripe: 'http://127.0.0.1:9' },
      dispatcher,
    });
    const headers = {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Bearer ${await setupKeys(vault, liveKeys)}`,
    };
    points.push({
      name: `keys:${liveKeys}`,
      vault,
      call: async () => (await vault.handle({ method: 'POST', path: '/v1/payment_intents', headers, body })).status,
    });
  }
  const auditVault = createVault({
    secrets: { stripe: 'sk_test_bench' },
    upstreams: { stripe: 'http://127.0.0.1:9' },
    dispatcher,
    audit: swappable,
  });
  const auditHeaders = {
    'content-type': 'application/x-www-form-urlencoded',
    authorization: `Bearer ${await setupKeys(auditVault)}`,
  };
  const auditCall = async () =>
    (await auditVault.handle({ method: 'POST', path: '/v1/payment_intents', headers: auditHeaders, body })).status;
  // Fill the full sink with real records of this call, past its ring's size.
  const full = createMemoryAuditSink();
  sink = full;
  for (let index = 0; index < RING + 1_000; index++) await auditCall();
  points.push({
    name: 'audit:0',
    vault: auditVault,
    call: auditCall,
    before: () => {
      sink = createMemoryAuditSink();
    },
  });
  points.push({
    name: `audit:${RING}`,
    vault: auditVault,
    call: auditCall,
    before: () => {
      sink = full;
    },
  });
  try {
    const samples = new Map<string, number[]>();
    for (let round = 0; round < rounds; round++) {
      for (const point of points) {
        point.before?.();
        const cpu = await cpuPerCall(point.call, calls, 1_000);
        samples.set(point.name, [...(samples.get(point.name) ?? []), cpu]);
      }
    }
    const median = (name: string) => {
      const sorted = [...(samples.get(name) ?? [])].sort((a, b) => a - b);
      return Number((sorted[Math.floor(sorted.length / 2)] ?? 0).toFixed(1));
    };
    return {
      liveKeys: Object.fromEntries(KEY_COUNTS.map((count) => [count, median(`keys:${count}`)])),
      auditRecords: { 0: median('audit:0'), [RING]: median(`audit:${RING}`) },
    };
  } finally {
    for (const vault of new Set(points.map((point) => point.vault))) await vault.close();
  }
}
