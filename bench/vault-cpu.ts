// The vault's own cost, without sockets: `vault.handle` and the capped fetch against an in-process
// dispatcher that answers at once with the benchmark upstream's PaymentIntent. Machine noise and
// the HTTP client's cost drop out, so this is the figure to track from one change to the next.

import { createVault } from '@keybrake/core';
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

async function cpuPerCall(call: () => Promise<number>, calls: number): Promise<number> {
  for (let index = 0; index < Math.min(calls, 20_000); index++) {
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
