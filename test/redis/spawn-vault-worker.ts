import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { WorkerCommand, WorkerConfig, WorkerMessage } from './worker-protocol.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type CommandWithoutId = DistributiveOmit<WorkerCommand, 'id'>;
type Reply = Extract<WorkerMessage, { type: 'reply' }>;

/** A vault replica running in its own Node process; see {@link spawnVaultWorker}. */
export interface VaultWorker {
  readonly process: ChildProcess;
  /** Calls acknowledged to this worker's client (audit durable), in order. */
  readonly acks: Array<{ auditId: string; status: number }>;
  /** Sends a command and waits for its reply. */
  send(command: CommandWithoutId): Promise<Reply>;
  /** SIGKILLs the process (no cleanup, like a crash) and waits for it to exit. */
  kill(): Promise<void>;
}

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WORKER = fileURLToPath(new URL('./vault-worker.ts', import.meta.url));

/**
 * Forks `vault-worker.ts` with the workspace's TypeScript sources (`--conditions=@keybrake/source
 * --import tsx`) and waits until its vault is ready.
 *
 * @example
 * ```ts
 * const worker = await spawnVaultWorker({ index: 0, redisUrl, prefix, upstreamUrl, reservationTtl: '5s', upstreamTimeout: '2s' });
 * const { results } = await worker.send({ type: 'run', calls });
 * ```
 */
export async function spawnVaultWorker(config: WorkerConfig): Promise<VaultWorker> {
  const child = fork(WORKER, [JSON.stringify(config)], {
    cwd: REPO_ROOT,
    execArgv: ['--conditions=@keybrake/source', '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const acks: VaultWorker['acks'] = [];
  const pending = new Map<number, { resolve: (reply: Reply) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (message: WorkerMessage) => {
      if (message.type === 'ready') resolve();
      else if (message.type === 'ack') acks.push({ auditId: message.auditId, status: message.status });
      else {
        const waiter = pending.get(message.id);
        pending.delete(message.id);
        if (message.type === 'reply') waiter?.resolve(message);
        else waiter?.reject(new Error(`worker ${config.index}: ${message.message}`));
      }
    });
    child.once('exit', (code, signal) => {
      const error = new Error(`worker ${config.index} exited (code ${code}, signal ${signal})`);
      reject(error);
      for (const waiter of pending.values()) waiter.reject(error);
      pending.clear();
    });
  });
  await ready;
  return {
    process: child,
    acks,
    send(command) {
      const id = nextId++;
      return new Promise<Reply>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        child.send({ ...command, id });
      });
    },
    kill() {
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    },
  };
}
