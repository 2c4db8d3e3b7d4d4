// The Keybrake proxy for the benchmark, as its own process: in-memory ledger, or Redis with BENCH_REDIS_URL.
import { createVault, type VaultOptions } from '@keybrake/core';
import { createProxyLogger, createProxyServer } from '@keybrake/server';
import { setupKeys } from './setup-keys.js';

const upstream = process.env.BENCH_UPSTREAM as string;
const redisUrl = process.env.BENCH_REDIS_URL;

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
  const proxy = createProxyServer({ vault, adminToken: 'bench-admin-token-0123456789', logger });
  const url = await proxy.listen({ host: '127.0.0.1', port: 0 });
  process.send?.({ url: `${url}#${vaultKey}` });
}

main().catch((error: unknown) => {
  process.send?.({ error: String(error) });
  process.exit(1);
});
process.on('disconnect', () => process.exit(0));
