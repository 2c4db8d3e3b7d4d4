// pnpm bench [--json] [--duration 2] [--runs 3]: what a cap costs per call, against a direct call, in one run.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { arch, cpus, platform, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { createVault } from '@keybrake/core';
import { Pool } from 'undici';
import { PAYMENT_BODY, setupKeys } from './setup-keys.js';

const { values: args } = parseArgs({
  // `pnpm bench --json` arrives as `-- --json`.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    json: { type: 'boolean', default: false },
    duration: { type: 'string', default: '2' },
    runs: { type: 'string', default: '3' },
    sequential: { type: 'string', default: '1000' },
  },
});
const DURATION_MS = Number(args.duration) * 1000;
const RUNS = Number(args.runs);
const SEQUENTIAL = Number(args.sequential);
const CONCURRENCY = [1, 16, 64] as const;
const children: ChildProcess[] = [];
const log = (line: string) => {
  if (!args.json) process.stderr.write(`${line}\n`);
};

type Send = () => Promise<number>;
interface ModeResult {
  name: string;
  p50Us: number;
  p99Us: number;
  throughput: Record<number, number>;
}

function startChild(file: string, env: Record<string, string> = {}): Promise<string> {
  const child = fork(new URL(file, import.meta.url).pathname, [], {
    env: { ...process.env, ...env },
    execArgv: ['--conditions=@keybrake/source', '--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('message', (message: { url?: string; error?: string }) =>
      message.url ? resolve(message.url) : reject(new Error(message.error ?? 'child failed')),
    );
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)));
  });
}

function poolSender(url: string, headers: Record<string, string>): { send: Send; close: () => Promise<void> } {
  const pool = new Pool(url, { connections: 128, pipelining: 1 });
  const allHeaders = { 'content-type': 'application/x-www-form-urlencoded', ...headers };
  return {
    send: async () => {
      const response = await pool.request({
        path: '/v1/payment_intents',
        method: 'POST',
        headers: allHeaders,
        body: PAYMENT_BODY,
      });
      await response.body.dump();
      return response.statusCode;
    },
    close: () => pool.close(),
  };
}

async function sequential(send: Send): Promise<{ p50Us: number; p99Us: number }> {
  for (let index = 0; index < 200; index++) await send();
  const samples: number[] = [];
  for (let index = 0; index < SEQUENTIAL; index++) {
    const start = process.hrtime.bigint();
    const status = await send();
    samples.push(Number(process.hrtime.bigint() - start) / 1000);
    if (status !== 200) throw new Error(`unexpected status ${status}`);
  }
  samples.sort((a, b) => a - b);
  return {
    p50Us: samples[Math.floor(samples.length * 0.5)] ?? 0,
    p99Us: samples[Math.floor(samples.length * 0.99)] ?? 0,
  };
}

async function throughput(send: Send, concurrency: number): Promise<number> {
  const rates: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    let done = 0;
    let failed = 0;
    const deadline = performance.now() + DURATION_MS;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (performance.now() < deadline) {
          if ((await send()) === 200) done++;
          else failed++;
        }
      }),
    );
    if (failed > 0) throw new Error(`${failed} calls failed during the run`);
    rates.push(done / ((performance.now() - start) / 1000));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)] ?? 0;
}

async function measure(name: string, send: Send): Promise<ModeResult> {
  log(`measuring ${name}…`);
  const latency = await sequential(send);
  const result: ModeResult = { name, ...latency, throughput: {} };
  for (const concurrency of CONCURRENCY) result.throughput[concurrency] = await throughput(send, concurrency);
  log(
    `  p50 ${Math.round(result.p50Us)} µs, p99 ${Math.round(result.p99Us)} µs, req/s ${CONCURRENCY.map((c) => Math.round(result.throughput[c] ?? 0)).join(' / ')}`,
  );
  return result;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  return typeof address === 'object' && address ? address.port : 0;
}

async function startRedis(): Promise<string | undefined> {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const failed = await Promise.race([
    once(child, 'error').then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 300)),
  ]);
  if (failed) return undefined;
  children.push(child);
  return `redis://127.0.0.1:${port}`;
}

async function main() {
  const upstream = await startChild('./upstream.ts');
  const results: ModeResult[] = [];

  const direct = poolSender(upstream, { authorization: 'Bearer sk_test_bench' });
  results.push(await measure('direct', direct.send));
  await direct.close();

  const vault = createVault({ secrets: { stripe: 'sk_test_bench' }, upstreams: { stripe: upstream } });
  const vaultKey = await setupKeys(vault);
  const cappedFetch = vault.createFetch({ vaultKey });
  const embedded: Send = async () => {
    const response = await cappedFetch('https://api.stripe.com/v1/payment_intents', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: PAYMENT_BODY,
    });
    await response.arrayBuffer();
    return response.status;
  };
  results.push(await measure('embedded', embedded));
  await vault.close();

  const hopUrl = await startChild('./hop.ts', { BENCH_UPSTREAM: upstream });
  const hop = poolSender(hopUrl, { authorization: 'Bearer sk_test_bench' });
  results.push(await measure('hop', hop.send));
  await hop.close();

  for (const [name, redisUrl] of [
    ['proxy', undefined],
    ['proxy_redis', await startRedis()],
  ] as const) {
    if (name === 'proxy_redis' && !redisUrl) {
      log('redis-server not found: skipping proxy_redis (apt-get install redis-server)');
      continue;
    }
    const proxyUrl = await startChild('./proxy.ts', {
      BENCH_UPSTREAM: upstream,
      ...(redisUrl ? { BENCH_REDIS_URL: redisUrl } : {}),
    });
    const [url, key] = proxyUrl.split('#') as [string, string];
    const proxy = poolSender(url, { authorization: `Bearer ${key}` });
    results.push(await measure(name, proxy.send));
    await proxy.close();
  }
  report(results);
}

function report(results: ModeResult[]) {
  const direct = results.find((result) => result.name === 'direct') as ModeResult;
  const byName = (name: string) => results.find((result) => result.name === name);
  const ratio = (name: string, base: ModeResult | undefined = direct) => {
    const mode = byName(name);
    return mode && base ? Number(((mode.throughput[16] ?? 0) / (base.throughput[16] ?? 1)).toFixed(3)) : null;
  };
  const machine = {
    node: process.version,
    platform: `${platform()} ${arch()}`,
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
  };
  const summary = {
    machine,
    settings: { durationMs: DURATION_MS, runs: RUNS, sequentialCalls: SEQUENTIAL, keyChain: 3, liveKeys: 10_000 },
    modes: Object.fromEntries(
      results.map((result) => [
        result.name,
        {
          p50_us: Math.round(result.p50Us),
          p99_us: Math.round(result.p99Us),
          added_p50_us: Math.round(result.p50Us - direct.p50Us),
          added_p99_us: Math.round(result.p99Us - direct.p99Us),
          throughput: Object.fromEntries(CONCURRENCY.map((c) => [c, Math.round(result.throughput[c] ?? 0)])),
        },
      ]),
    ),
    ratios: {
      embedded: ratio('embedded'),
      proxy: ratio('proxy'),
      proxy_redis: ratio('proxy_redis'),
      hop: ratio('hop'),
      proxy_vs_hop: ratio('proxy', byName('hop')),
    },
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return;
  }
  const pad = (text: string | number, width: number) => String(text).padStart(width);
  console.log(
    `\nKeybrake benchmark — Node ${machine.node}, ${machine.platform}, ${machine.cpus}× ${machine.cpu}, ${machine.memoryGiB} GiB`,
  );
  console.log(
    `${RUNS} runs of ${DURATION_MS / 1000}s per point (median), ${SEQUENTIAL} sequential calls, 3-level key chain, 10,000 live keys\n`,
  );
  console.log(
    `${'mode'.padEnd(12)}${pad('p50 µs', 9)}${pad('+p50', 8)}${pad('p99 µs', 9)}${pad('+p99', 8)}${pad('req/s@1', 10)}${pad('req/s@16', 10)}${pad('req/s@64', 10)}${pad('×direct@16', 12)}`,
  );
  for (const result of results) {
    console.log(
      `${result.name.padEnd(12)}${pad(Math.round(result.p50Us), 9)}${pad(Math.round(result.p50Us - direct.p50Us), 8)}${pad(Math.round(result.p99Us), 9)}${pad(Math.round(result.p99Us - direct.p99Us), 8)}${pad(Math.round(result.throughput[1] ?? 0), 10)}${pad(Math.round(result.throughput[16] ?? 0), 10)}${pad(Math.round(result.throughput[64] ?? 0), 10)}${pad(((result.throughput[16] ?? 0) / (direct.throughput[16] ?? 1)).toFixed(2), 12)}`,
    );
  }
  console.log(`\nratios (req/s at 16 callers): ${JSON.stringify(summary.ratios)}`);
}

main()
  .catch((error: unknown) => {
    process.exitCode = 1;
    console.error(error);
  })
  .finally(() => {
    for (const child of children) child.kill();
  });
