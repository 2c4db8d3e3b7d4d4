import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll } from 'vitest';

/** A request the recording upstream received. */
export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A loopback JSON upstream for core tests: records requests, answers `{ ok: true, path }` or a programmed reply. */
export async function startRecordingUpstream(
  reply: (request: ReceivedRequest) => {
    status?: number;
    body?: unknown;
    delayMs?: number;
    headers?: Record<string, string | string[]>;
  } = () => ({}),
) {
  const received: ReceivedRequest[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    received.push(request);
    const answer = reply(request);
    if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
    // The client gave up meanwhile (a timeout under test): nothing to answer.
    if (res.destroyed) return;
    res.writeHead(answer.status ?? 200, {
      'content-type': 'application/json',
      'request-id': `req_${received.length}`,
      ...answer.headers,
    });
    res.end(JSON.stringify(answer.body ?? { ok: true, path: request.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A recording upstream for the enclosing `describe`: started before its tests, its requests
 * forgotten and the vaults a test pushed to `vaults` closed after each, stopped after all.
 */
export function useRecordingUpstream(reply?: Parameters<typeof startRecordingUpstream>[0]) {
  let started: Awaited<ReturnType<typeof startRecordingUpstream>> | undefined;
  const vaults: Array<{ close(): Promise<void> }> = [];
  beforeAll(async () => {
    started = await startRecordingUpstream(reply);
  });
  afterEach(async () => {
    if (started) started.received.length = 0;
    await Promise.all(vaults.splice(0).map((vault) => vault.close()));
  });
  afterAll(() => started?.close());
  const upstream = {
    get url(): string {
      if (!started) throw new Error('The recording upstream is used before it started.');
      return started.url;
    },
    get received(): ReceivedRequest[] {
      return started?.received ?? [];
    },
  };
  return { upstream, vaults };
}
