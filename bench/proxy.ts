// The Keybrake proxy for the benchmark, as its own process: in-memory ledger, or Redis with
// BENCH_REDIS_URL; started as `proxy.ts proxy_shell`, the server's shell alone (see passThrough).
import { createVault, type Vault, type VaultOptions, type VaultResponse } from '@keybrake/core';
import { createProxyLogger, createProxyServer } from '@keybrake/server';
import { Pool } from 'undici';
import { setupKeys } from './setup-keys.js';

const upstream = process.env.BENCH_UPSTREAM as string;
const redisUrl = process.env.BENCH_REDIS_URL;

/** Request headers the pass-through does not forward, as the bare hop does not. */
const HOP_HEADERS = new Set(['host', 'connection', 'content-length']);

/**
 * The vault with `handle` replaced by a bare forward (no key check, no cap, no audit), for the
 * `proxy_shell` mode: `@keybrake/server` (body limit, headers, one log line, metrics) around what
 * the hop does, so the table splits the proxy's cost into its shell and the vault. A benchmark
 * reference only: never serve vendor calls this way.
 */
function passThrough(vault: Vault): Vault {
  const pool = new Pool(upstream, { connections: 128 });
  return {
    ...vault,
    async handle(request): Promise<VaultResponse> {
      const headers: Record<string, string> = {};
      for (const name in request.headers) {
        const value = (request.headers as Record<string, unknown>)[name];
        if (typeof value === 'string' && !HOP_HEADERS.has(name)) headers[name] = value;
      }
      const answer = await pool.request({
        path: request.path,
        method: request.method as 'POST',
        headers,
        body: request.body ?? null,
      });
      const body = new Uint8Array(await answer.body.arrayBuffer());
      const headerRecord = { 'content-type': String(answer.headers['content-type'] ?? 'application/json') };
      return {
        status: answer.statusCode,
        headerRecord,
        get headers() {
          return new Headers(headerRecord);
        },
        body,
        keybrake: {
          auditId: 'none',
          keyId: 'none',
          decision: 'allowed',
          vendor: 'stripe',
          estimatedMicros: 0,
          actualMicros: 0,
        },
      };
    },
  };
}

async function main() {
  let storage: Pick<VaultOptions, 'ledger' | 'keyStore' | 'audit'> = {};
  if (redisUrl) {
    const { createRedisStorage } = await import('@keybrake/redis');
    storage = createRedisStorage({ url: redisUrl, prefix: `bench:${process.pid}:` });
  }
  const vault = createVault({ secrets: { stripe: 'sk_test_bench' }, upstreams: { stripe: upstream }, ...storage });
  const vaultKey = await setupKeys(vault);
  // One info line per call is built and serialised as in production; only the write goes nowhere.
  const logger = createProxyLogger({ level: 'info', destination: { write: () => {} } });
  const proxy = createProxyServer({
    vault: process.argv[2] === 'proxy_shell' ? passThrough(vault) : vault,
    adminToken: 'bench-admin-token-0123456789',
    logger,
  });
  const url = await proxy.listen({ host: '127.0.0.1', port: 0 });
  process.send?.({ url: `${url}#${vaultKey}` });
}

main().catch((error: unknown) => {
  process.send?.({ error: String(error) });
  process.exit(1);
});
process.on('disconnect', () => process.exit(0));
