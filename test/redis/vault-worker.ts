// A vault replica in its own process, driven over IPC by redis-multi-process.test.ts.
// Run as: node --conditions=@keybrake/source --import tsx test/redis/vault-worker.ts '<WorkerConfig JSON>'
import { setTimeout } from 'node:timers/promises';
import { createVault } from '@keybrake/core';
import { createRedisStorage } from '@keybrake/redis';
import { ACME_SECRET, createAcmeVendor } from './create-acme-vendor.js';
import type { WorkerCall, WorkerCallResult, WorkerCommand, WorkerConfig, WorkerMessage } from './worker-protocol.js';

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
const storage = createRedisStorage({ url: config.redisUrl, prefix: config.prefix });
const vault = createVault({
  ...storage,
  vendors: { acme: createAcmeVendor() },
  secrets: { acme: ACME_SECRET },
  upstreams: { acme: config.upstreamUrl },
  // A reservation must outlast the longest call (2 × upstreamTimeout + 1s), so a short one for the
  // crash test needs a short upstream timeout.
  upstreamTimeout: config.upstreamTimeout,
  reservationTtl: config.reservationTtl,
});

const send = (message: WorkerMessage) => process.send?.(message);
let streaming = false;
const streams: Promise<void>[] = [];

async function call({ vaultKey, path }: WorkerCall): Promise<WorkerCallResult> {
  const response = await vault.handle({
    method: 'POST',
    path,
    headers: { 'x-worker': String(config.index), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'amount=1',
    vaultKey,
  });
  return { status: response.status, code: response.keybrake.error?.code, auditId: response.keybrake.auditId };
}

async function stream(target: WorkerCall): Promise<void> {
  while (streaming) {
    const result = await call(target);
    // Acknowledge only once the audit record is durable: a crash after this loses nothing.
    await storage.audit.flush();
    send({ type: 'ack', auditId: result.auditId, status: result.status });
  }
}

async function runCalls(command: Extract<WorkerCommand, { type: 'run' }>): Promise<WorkerCallResult[]> {
  if (command.startAt !== undefined) await setTimeout(Math.max(0, command.startAt - Date.now()));
  const results = await Promise.all(
    command.calls.map(async (target) => {
      if (command.spreadMs) await setTimeout(Math.random() * command.spreadMs);
      return call(target);
    }),
  );
  // Audit writes are batched off the calls' path; report only once they are in Redis.
  await storage.audit.flush();
  return results;
}

async function handle(command: WorkerCommand): Promise<WorkerMessage> {
  switch (command.type) {
    case 'run':
      return { type: 'reply', id: command.id, results: await runCalls(command) };
    case 'revoke':
      return { type: 'reply', id: command.id, revoked: (await vault.revokeKey(command.keyId)).revoked };
    case 'stream':
      streaming = true;
      for (let lane = 0; lane < command.concurrency; lane++) streams.push(stream(command.call));
      return { type: 'reply', id: command.id };
    case 'stop':
      streaming = false;
      await Promise.all(streams.splice(0));
      await vault.close();
      return { type: 'reply', id: command.id };
  }
}

process.on('message', (command: WorkerCommand) => {
  handle(command).then(send, (error: unknown) =>
    send({ type: 'error', id: command.id, message: error instanceof Error ? error.message : String(error) }),
  );
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
