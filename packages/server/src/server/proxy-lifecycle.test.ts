// Shutting down while calls arrive, and what the latency metric measures.
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { createVault, type Vault } from '@keybrake/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createProxyLogger } from '../logging/create-proxy-logger.js';
import { ACME_SECRET, createAcmeVendor, startAcmeUpstream } from '../test-utils/start-acme-upstream.js';
import { createProxyServer } from './create-proxy-server.js';

const ADMIN_TOKEN = 'admin-token-0123456789-abcdef';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const cleanup: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()?.();
});

async function start(options: { shutdownTimeout?: string } = {}) {
  const upstream = await startAcmeUpstream();
  cleanup.push(() => upstream.close());
  const vault = createVault({ vendors: { acme: createAcmeVendor(upstream.url) }, secrets: { acme: ACME_SECRET } });
  const events: string[] = [];
  let handling = 0;
  // The vault as the proxy sees it, noting whether it is closed while a call is still being handled.
  const watched = new Proxy(vault, {
    get(target, name) {
      if (name === 'handle') {
        return async (request: Parameters<Vault['handle']>[0]) => {
          handling += 1;
          try {
            return await target.handle(request);
          } finally {
            handling -= 1;
          }
        };
      }
      if (name === 'close') {
        return () => {
          events.push(`vault closed with ${handling} call(s) being handled`);
          return target.close();
        };
      }
      return Reflect.get(target, name);
    },
  });
  const proxy = createProxyServer({
    vault: watched,
    adminToken: ADMIN_TOKEN,
    shutdownTimeout: options.shutdownTimeout,
    logger: createProxyLogger({ level: 'silent' }),
  });
  const url = await proxy.listen({ port: 0 });
  return { upstream, vault, proxy, url, events };
}

describe('the proxy', () => {
  it('should settle and audit a call it let in while closing before it closes the vault', async () => {
    const { upstream, vault, proxy, url, events } = await start({ shutdownTimeout: '200ms' });
    upstream.state.delayMs = 800; // the vendor answers after the forced close of connections
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 100 });
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    socket.on('error', () => {});
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('POST /v1/charges HTTP/1.1\r\nHost: x\r\n');
    await sleep(50);
    const closing = proxy.close(); // nothing in flight yet: the request's headers are still arriving
    await sleep(20);
    socket.write(`Authorization: Bearer ${key.vaultKey}\r\nContent-Length: 8\r\n\r\namount=1`);
    await closing;
    expect(upstream.received).toHaveLength(1); // the vendor got the call…
    expect(events).toEqual(['vault closed with 0 call(s) being handled']); // …and the vault outlived it
    socket.destroy();
  });

  it('should measure latency from the end of the request body, not while the client uploads it', async () => {
    const { vault, proxy, url } = await start();
    cleanup.push(() => proxy.close());
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 100 });
    await new Promise<void>((resolve, reject) => {
      const request = httpRequest(`${url}/v1/charges`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.vaultKey}`, 'content-length': '7' },
      });
      request.on('response', (response) => response.resume().on('end', resolve));
      request.on('error', reject);
      request.write('a=1');
      setTimeout(() => request.end('&b=2'), 600);
    });
    const metrics = await (
      await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
    ).text();
    const sum = Number(/keybrake_upstream_latency_seconds_sum\{vendor="acme"\} (\S+)/.exec(metrics)?.[1]);
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(0.3);
  });

  it('should wait for a call in flight under a shutdownTimeout longer than a Node timer can hold', async () => {
    const { upstream, vault, proxy, url } = await start({ shutdownTimeout: '30d' });
    upstream.state.delayMs = 300;
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 100 });
    const answer = new Promise<number | string>((resolve) => {
      const request = httpRequest(`${url}/v1/charges`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.vaultKey}`, 'content-type': 'application/x-www-form-urlencoded' },
      });
      request.on('response', (response) => response.resume().on('end', () => resolve(response.statusCode ?? 0)));
      request.on('error', (error) => resolve(error.message));
      request.end('amount=1');
    });
    await sleep(100); // the call is at the vendor
    const closing = proxy.close();
    expect(await answer).toBe(200);
    await closing;
  });
});
