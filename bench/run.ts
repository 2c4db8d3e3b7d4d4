// pnpm bench [--json] [--duration 2] [--runs 3] [--warmup 5]: what a cap costs per call, against a direct call, in one run.
// `pnpm bench` builds the packages and runs them as users do (dist); `pnpm bench:source` runs their TypeScript source.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { arch, cpus, platform, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { createVault } from '@keybrake/core';
import { Agent, Pool, fetch as undiciFetch } from 'undici';
import { PAYMENT_BODY, sendPayment, setupKeys } from './setup-keys.js';
import { measureVaultCpu, measureVaultScaling, type VaultCpu, type VaultScaling } from './vault-cpu.js';

const USAGE = `Usage: pnpm bench [--json] [--duration 2] [--runs 3] [--warmup 5] [--sequential 1000]

Measures what a Keybrake cap costs per call against a direct call, in one run (see BENCHMARKS.md).
\`pnpm bench\` builds the packages first and measures their dist, as users install them;
\`pnpm bench:source\` measures their TypeScript source instead, without building.
  --json            print one JSON object instead of the table
  --duration <s>    seconds per throughput point (default 2)
  --runs <n>        runs per point; the median is kept (default 3)
  --warmup <s>      seconds at 16 callers before each mode is measured (default 5)
  --sequential <n>  sequential calls for the latency percentiles (default 1000)
`;

function parseArguments() {
  try {
    return parseArgs({
      // `pnpm bench --json` arrives as `-- --json`.
      args: process.argv.slice(2).filter((arg) => arg !== '--'),
      options: {
        help: { type: 'boolean', short: 'h', default: false },
        json: { type: 'boolean', default: false },
        duration: { type: 'string', default: '2' },
        runs: { type: 'string', default: '3' },
        sequential: { type: 'string', default: '1000' },
        warmup: { type: 'string', default: '5' },
      },
    }).values;
  } catch (error) {
    process.stderr.write(`pnpm bench: ${(error as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
}
const args = parseArguments();
if (args.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const DURATION_MS = Number(args.duration) * 1000;
const RUNS = Number(args.runs);
const SEQUENTIAL = Number(args.sequential);
const WARMUP_MS = Number(args.warmup) * 1000;
const CONCURRENCY = [1, 16, 64] as const;
const children: ChildProcess[] = [];
/**
 * How the packages run: built (`dist`, what users install; `pnpm bench` builds them first) or, with
 * `pnpm bench:source`, from their TypeScript source. Every process of one run runs the same way.
 */
const SOURCE_CONDITION = process.execArgv.filter((flag) => flag === '--conditions=@keybrake/source');
const log = (line: string) => {
  if (!args.json) process.stderr.write(`${line}\n`);
};

type Send = () => Promise<number>;
interface ModeResult {
  name: string;
  p50Us: number;
  p99Us: number;
  throughput: Record<number, number>;
  /** CPU time per call at 16 callers, µs: the load generator (with the embedded vault), the proxy, Redis. */
  cpuUs: { client: number; proxy?: number | undefined; redis?: number | undefined };
}

/** Processes whose CPU time is sampled while a mode runs, by role. */
type Watched = { proxy?: number | undefined; redis?: number | undefined };

/** A child process' user + system CPU time so far, µs (Linux `/proc`; `undefined` elsewhere). */
function processCpuUs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return undefined;
  }
}

/**
 * Starts one of the benchmark's processes; `mode` is passed as its one argument so it can be told
 * apart in `ps` (e.g. `pgrep -f 'bench/proxy.ts proxy$'` for profiling).
 */
function startChild(
  file: string,
  env: Record<string, string> = {},
  nodeFlags: string[] = [],
  mode = '',
): Promise<{ url: string; pid?: number }> {
  const child = fork(new URL(file, import.meta.url).pathname, mode ? [mode] : [], {
    env: { ...process.env, ...env },
    execArgv: [...nodeFlags, ...SOURCE_CONDITION, '--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('message', (message: { url?: string; error?: string }) =>
      message.url ? resolve({ url: message.url, pid: child.pid }) : reject(new Error(message.error ?? 'child failed')),
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

/** `concurrency` callers in a closed loop for `durationMs`; resolves to the calls done, throws if any failed. */
async function load(send: Send, concurrency: number, durationMs: number): Promise<number> {
  let done = 0;
  let failed = 0;
  const deadline = performance.now() + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        if ((await send()) === 200) done++;
        else failed++;
      }
    }),
  );
  if (failed > 0) throw new Error(`${failed} calls failed during the run`);
  return done;
}

async function throughput(
  send: Send,
  concurrency: number,
  watched: Watched = {},
): Promise<{ rate: number; cpuUs: ModeResult['cpuUs'] }> {
  const rates: number[] = [];
  let calls = 0;
  const client = process.cpuUsage();
  const proxy = processCpuUs(watched.proxy);
  const redis = processCpuUs(watched.redis);
  for (let run = 0; run < RUNS; run++) {
    const start = performance.now();
    const done = await load(send, concurrency, DURATION_MS);
    rates.push(done / ((performance.now() - start) / 1000));
    calls += done;
  }
  rates.sort((a, b) => a - b);
  const used = process.cpuUsage(client);
  const perCall = (before: number | undefined, pid: number | undefined) => {
    const after = processCpuUs(pid);
    return before === undefined || after === undefined ? undefined : (after - before) / calls;
  };
  return {
    rate: rates[Math.floor(rates.length / 2)] ?? 0,
    cpuUs: {
      client: (used.user + used.system) / calls,
      proxy: perCall(proxy, watched.proxy),
      redis: perCall(redis, watched.redis),
    },
  };
}

async function measure(name: string, send: Send, watched: Watched = {}): Promise<ModeResult> {
  log(`measuring ${name}…`);
  // Every mode is measured warm, as a long-running process serves: V8 keeps optimising for tens of
  // thousands of calls (the proxy used about 190 µs of CPU per call after 500 calls, 100 µs after 20,000).
  await load(send, 16, WARMUP_MS);
  const latency = await sequential(send);
  const result: ModeResult = { name, ...latency, throughput: {}, cpuUs: { client: 0 } };
  for (const concurrency of CONCURRENCY) {
    const { rate, cpuUs } = await throughput(send, concurrency, watched);
    result.throughput[concurrency] = rate;
    if (concurrency === 16) result.cpuUs = cpuUs;
  }
  log(
    `  p50 ${Math.round(result.p50Us)} µs, p99 ${Math.round(result.p99Us)} µs, req/s ${CONCURRENCY.map((c) => Math.round(result.throughput[c] ?? 0)).join(' / ')}, CPU µs/call ${formatCpu(result.cpuUs)}`,
  );
  return result;
}

function formatCpu(cpu: ModeResult['cpuUs']): string {
  return [cpu.client, cpu.proxy, cpu.redis]
    .filter((value): value is number => value !== undefined)
    .map((value) => Math.round(value))
    .join(' + ');
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  return typeof address === 'object' && address ? address.port : 0;
}

async function startRedis(): Promise<{ url: string; pid?: number } | undefined> {
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
  return { url: `redis://127.0.0.1:${port}`, pid: child.pid };
}

async function main() {
  // First, in a fresh process: nothing else has run yet.
  log('measuring the vault alone (in-process upstream)…');
  const vaultCpu = await measureVaultCpu();
  log('measuring the vault alone with 10, 10,000 and 100,000 live keys, and an empty and a full audit sink…');
  const scaling = await measureVaultScaling();
  const { url: upstream } = await startChild('./upstream.ts');
  const results: ModeResult[] = [];

  const direct = poolSender(upstream, { authorization: 'Bearer sk_test_bench' });
  results.push(await measure('direct', direct.send));
  await direct.close();

  // A reference, not a target's base: the same call through undici's own fetch(), the API the
  // capped fetch stands in for.
  const agent = new Agent({ connections: 128 });
  const plainFetch = ((input: string | URL | Request, init?: RequestInit) =>
    undiciFetch(input as string, { ...(init as object), dispatcher: agent })) as typeof fetch;
  results.push(await measure('direct_fetch', () => sendPayment(plainFetch, upstream, 'Bearer sk_test_bench')));
  await agent.close();

  const vault = createVault({ secrets: { stripe: 'sk_test_bench' }, upstreams: { stripe: upstream } });
  const vaultKey = await setupKeys(vault);
  const cappedFetch = vault.createFetch({ vaultKey });
  results.push(await measure('embedded', () => sendPayment(cappedFetch)));
  await vault.close();

  const hopChild = await startChild('./hop.ts', { BENCH_UPSTREAM: upstream });
  const hop = poolSender(hopChild.url, { authorization: 'Bearer sk_test_bench' });
  results.push(await measure('hop', hop.send, { proxy: hopChild.pid }));
  await hop.close();

  for (const [name, redis] of [
    ['proxy_shell', undefined],
    ['proxy', undefined],
    ['proxy_redis', await startRedis()],
  ] as const) {
    if (name === 'proxy_redis' && !redis) {
      log('redis-server not found: skipping proxy_redis (apt-get install redis-server)');
      continue;
    }
    const proxyChild = await startChild(
      './proxy.ts',
      { BENCH_UPSTREAM: upstream, ...(redis ? { BENCH_REDIS_URL: redis.url } : {}) },
      // For profiling the proxy, e.g. BENCH_PROXY_NODE_FLAGS=--perf-basic-prof (see BENCHMARKS.md).
      process.env.BENCH_PROXY_NODE_FLAGS?.split(' ').filter(Boolean),
      name,
    );
    const [url, key] = proxyChild.url.split('#') as [string, string];
    const proxy = poolSender(url, { authorization: `Bearer ${key}` });
    results.push(await measure(name, proxy.send, { proxy: proxyChild.pid, redis: redis?.pid }));
    await proxy.close();
  }
  report(results, vaultCpu, scaling);
}

interface Target {
  name: string;
  value: number | null;
  wanted: string;
  met: boolean;
}

/** The targets, each with what this run reached (null where a mode did not run). */
function targets(results: ModeResult[]): Target[] {
  const byName = (name: string) => results.find((result) => result.name === name);
  const [direct, embedded, hop, proxy, redis] = ['direct', 'embedded', 'hop', 'proxy', 'proxy_redis'].map(byName);
  const rate = (mode: ModeResult | undefined, base: ModeResult | undefined, callers: number) =>
    mode && base ? Number(((mode.throughput[callers] ?? 0) / (base.throughput[callers] || 1)).toFixed(3)) : null;
  const added = (mode: ModeResult | undefined) => (mode && direct ? Math.round(mode.p50Us - direct.p50Us) : null);
  const atLeast = (name: string, value: number | null, wanted: number): Target => ({
    name,
    value,
    wanted: `≥ ${wanted}`,
    met: value !== null && value >= wanted,
  });
  const atMost = (name: string, value: number | null, wanted: number | null): Target => ({
    name,
    value,
    wanted: wanted === null ? '≤ (not measured)' : `≤ ${wanted}`,
    met: value !== null && wanted !== null && value <= wanted,
  });
  const hopAdded = added(hop);
  return [
    atLeast('embedded req/s @16 ÷ direct', rate(embedded, direct, 16), 0.85),
    atMost('embedded +p50 µs', added(embedded), 50),
    atLeast('proxy req/s @16 ÷ hop', rate(proxy, hop, 16), 0.9),
    atLeast('proxy req/s @64 ÷ hop', rate(proxy, hop, 64), 0.9),
    atMost("proxy +p50 µs (the hop's + 100)", added(proxy), hopAdded === null ? null : hopAdded + 100),
    atLeast('proxy_redis req/s @16 ÷ hop', rate(redis, hop, 16), 0.7),
  ];
}

function report(results: ModeResult[], vaultCpu: VaultCpu, scaling: VaultScaling) {
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
    settings: {
      durationMs: DURATION_MS,
      runs: RUNS,
      warmupMs: WARMUP_MS,
      sequentialCalls: SEQUENTIAL,
      keyChain: 3,
      liveKeys: 10_000,
      packages: SOURCE_CONDITION.length > 0 ? 'source' : 'dist',
    },
    modes: Object.fromEntries(
      results.map((result) => [
        result.name,
        {
          p50_us: Math.round(result.p50Us),
          p99_us: Math.round(result.p99Us),
          added_p50_us: Math.round(result.p50Us - direct.p50Us),
          added_p99_us: Math.round(result.p99Us - direct.p99Us),
          throughput: Object.fromEntries(CONCURRENCY.map((c) => [c, Math.round(result.throughput[c] ?? 0)])),
          cpu_us_per_call: {
            client: Math.round(result.cpuUs.client),
            ...(result.cpuUs.proxy === undefined ? {} : { proxy: Math.round(result.cpuUs.proxy) }),
            ...(result.cpuUs.redis === undefined ? {} : { redis: Math.round(result.cpuUs.redis) }),
          },
        },
      ]),
    ),
    vault_cpu_us_per_call: {
      handle: Number(vaultCpu.handle.toFixed(1)),
      capped_fetch: Number(vaultCpu.cappedFetch.toFixed(1)),
    },
    // vault.handle alone by live keys in the store and by audit records held before the calls.
    vault_scaling_us_per_call: { live_keys: scaling.liveKeys, audit_records: scaling.auditRecords },
    ratios: {
      embedded: ratio('embedded'),
      proxy: ratio('proxy'),
      proxy_redis: ratio('proxy_redis'),
      hop: ratio('hop'),
      proxy_vs_hop: ratio('proxy', byName('hop')),
      proxy_redis_vs_hop: ratio('proxy_redis', byName('hop')),
      // References, not the ratios: the embedded fetch against undici's plain fetch(), and
      // the proxy's shell (its vault replaced by a bare forward) against the hop.
      embedded_vs_fetch: ratio('embedded', byName('direct_fetch')),
      proxy_shell_vs_hop: ratio('proxy_shell', byName('hop')),
    },
    targets: targets(results),
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
    `${RUNS} runs of ${DURATION_MS / 1000}s per point (median) after ${WARMUP_MS / 1000}s of warm-up, ${SEQUENTIAL} sequential calls, 3-level key chain, 10,000 live keys, packages from ${SOURCE_CONDITION.length > 0 ? 'their TypeScript source' : 'dist'}\n`,
  );
  console.log(
    `${'mode'.padEnd(12)}${pad('p50 µs', 9)}${pad('+p50', 8)}${pad('p99 µs', 9)}${pad('+p99', 8)}${pad('req/s@1', 10)}${pad('req/s@16', 10)}${pad('req/s@64', 10)}${pad('×direct@16', 12)}  CPU µs/call@16 (client + proxy + redis)`,
  );
  for (const result of results) {
    console.log(
      `${result.name.padEnd(12)}${pad(Math.round(result.p50Us), 9)}${pad(Math.round(result.p50Us - direct.p50Us), 8)}${pad(Math.round(result.p99Us), 9)}${pad(Math.round(result.p99Us - direct.p99Us), 8)}${pad(Math.round(result.throughput[1] ?? 0), 10)}${pad(Math.round(result.throughput[16] ?? 0), 10)}${pad(Math.round(result.throughput[64] ?? 0), 10)}${pad(((result.throughput[16] ?? 0) / (direct.throughput[16] ?? 1)).toFixed(2), 12)}  ${formatCpu(result.cpuUs)}`,
    );
  }
  console.log(
    `\nthe vault alone, no sockets (CPU µs per call): vault.handle ${vaultCpu.handle.toFixed(1)}, capped fetch ${vaultCpu.cappedFetch.toFixed(1)}`,
  );
  const row = (points: Record<number, number>) =>
    Object.entries(points)
      .map(([count, us]) => `${Number(count).toLocaleString('en-US')}: ${us}`)
      .join(', ');
  console.log(
    `vault.handle alone (CPU µs per call) by live keys — ${row(scaling.liveKeys)}; by audit records already held — ${row(scaling.auditRecords)}`,
  );
  console.log(`ratios (req/s at 16 callers): ${JSON.stringify(summary.ratios)}`);
  console.log('targets (issue 7):');
  for (const target of summary.targets) {
    console.log(
      `  ${target.met ? 'met   ' : 'missed'} ${target.name}: ${target.value ?? 'not measured'} (wanted ${target.wanted})`,
    );
  }
}

main()
  .catch((error: unknown) => {
    process.exitCode = 1;
    console.error(error);
  })
  .finally(() => {
    for (const child of children) child.kill();
  });
