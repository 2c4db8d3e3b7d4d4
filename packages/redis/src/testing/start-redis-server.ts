import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Options of {@link startRedisServer}. */
export interface RedisServerOptions {
  /**
   * Keep data across {@link RedisServer.restart}: append-only file, fsynced on every write, in a
   * temporary directory. Otherwise nothing is ever written to disk.
   * @default false
   */
  persistent?: boolean;
  /** The `redis-server` executable. @default 'redis-server' (looked up on PATH) */
  command?: string;
  /** How long to wait for the server to answer `PING`, ms. @default 10_000 */
  startTimeoutMs?: number;
  /** More `redis-server` arguments, e.g. `['--requirepass', 'secret']`. @default [] */
  args?: readonly string[];
}

/** A `redis-server` child process on a free loopback port. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** Kills the server with SIGKILL, as a crash would, and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts the server again on the same port (stopping it first if it runs) and waits for `PING`. */
  restart(): Promise<void>;
  /** Stops the server for good and removes its data directory. */
  close(): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Starts a private `redis-server` on a free `127.0.0.1` port for a test, with no persistence
 * unless asked, and waits until it answers `PING`. Each test file starts its own, so tests never
 * touch a developer's Redis. If `redis-server` is missing the promise rejects with how to install
 * it: Redis tests fail, locally and in CI, rather than silently skipping.
 *
 * @param options - See {@link RedisServerOptions}.
 * @returns The running {@link RedisServer}.
 * @throws {Error} if `redis-server` is not installed, exits early or does not answer in time.
 * @example
 * ```ts
 * let redis: RedisServer;
 * beforeAll(async () => { redis = await startRedisServer(); });
 * afterAll(() => redis.close());
 * it('should share spend', async () => {
 *   const storage = createRedisStorage({ url: redis.url, prefix: 'test:' });
 * });
 * ```
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const command = options.command ?? 'redis-server';
  const startTimeoutMs = options.startTimeoutMs ?? 10_000;
  const dir = await mkdtemp(join(tmpdir(), 'keybrake-redis-'));
  installExitHook();

  let child: ChildProcess | undefined;
  let port = 0;
  for (let attempt = 1; ; attempt++) {
    port = await findFreePort();
    try {
      child = await launch(command, port, dir, options, startTimeoutMs);
      break;
    } catch (error) {
      // Another process may have taken the port between probing and binding: try another one.
      if (!(error instanceof PortTakenError) || attempt >= 5) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }

  const stop = async () => {
    const current = child;
    child = undefined;
    if (current) await kill(current);
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop,
    async restart() {
      await stop();
      child = await launch(command, port, dir, options, startTimeoutMs);
    },
    async close() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

class PortTakenError extends Error {}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test runner that dies must not leave servers behind.
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function notInstalledMessage(command: string): string {
  const install = 'apt-get install redis-server';
  return process.env.CI
    ? `${command} was not found on PATH in CI. The CI image must install Redis (\`${install}\`); Keybrake's Redis tests never skip.`
    : `${command} was not found on PATH. Install Redis to run Keybrake's Redis tests: \`${install}\` (Debian/Ubuntu) or \`brew install redis\` (macOS).`;
}

async function launch(
  command: string,
  port: number,
  dir: string,
  options: RedisServerOptions,
  startTimeoutMs: number,
): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--loglevel', 'warning'];
  args.push(...(options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
  args.push(...(options.args ?? []));
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  running.add(child);
  child.once('exit', () => running.delete(child));

  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'ENOENT' ? new Error(notInstalledMessage(command)) : error);
    });
    child.once('exit', (code, signal) => {
      const message = `redis-server exited before it was ready (code ${code}, signal ${signal}):\n${output}`;
      reject(/address already in use/i.test(output) ? new PortTakenError(message) : new Error(message));
    });
  });
  failed.catch(() => {});
  const deadline = Date.now() + startTimeoutMs;
  try {
    await Promise.race([failed, waitForPing(port, deadline)]);
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) await kill(child);
    throw error;
  }
  return child;
}

async function waitForPing(port: number, deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    if (await ping(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`redis-server on port ${port} did not answer PING in time.`);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      // `-LOADING` while an append-only file is replayed: not ready yet. `-NOAUTH`: ready, password set.
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
  });
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
