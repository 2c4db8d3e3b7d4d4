// A request pipelined behind a charge still at the vendor, whose body turns out unreadable (a
// malformed chunk, a client that half-closes mid-body): the charge has moved money, so its client
// reads its answer first; the unreadable request is never sent, and its 400 follows.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBearerVendor, createFixedPriceCostModel, createVault, type Vault } from '@keybrake/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProxyLogger } from '../logging/create-proxy-logger.js';
import { sendRaw } from '../test-utils/send-raw.js';
import { createProxyServer, type ProxyServer } from './create-proxy-server.js';

const SECRET = 'acme_live_secret_0123456789abcdef';

describe('a request pipelined behind a charge in flight, whose body is unreadable', () => {
  const received: string[] = [];
  const upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push(`${req.method} ${req.url}`);
      setTimeout(
        () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"charged":true}');
        },
        req.url === '/v1/slow' ? 300 : 0,
      );
    });
  });
  let vault: Vault;
  let proxy: ProxyServer;
  let url: string;

  beforeAll(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const { port } = upstream.address() as AddressInfo;
    vault = createVault({
      vendors: {
        acme: createBearerVendor({
          name: 'acme',
          baseUrl: `http://127.0.0.1:${port}`,
          costModel: createFixedPriceCostModel({
            prices: { 'POST /v1/slow': '5.00', 'POST /v1/charges': '5.00', 'GET /**': 0 },
          }),
        }),
      },
      secrets: { acme: SECRET },
    });
    proxy = createProxyServer({
      vault,
      adminToken: 'admin-token-0123456789-abcdef',
      maxBodyBytes: 4096,
      logger: createProxyLogger({ level: 'silent' }),
    });
    url = await proxy.listen({ port: 0 });
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise((resolve) => upstream.close(resolve));
  });

  it('should answer a charge in flight before the 400 of a request pipelined behind it whose chunked body is malformed', async () => {
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 100 });
    const charge = `POST /v1/slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key.vaultKey}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\namount=500`;
    // The second request's headers are fine (Node emits 'request' for it); its chunked body is not.
    const bad = `POST /v1/charges HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key.vaultKey}\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n`;
    const answer = await sendRaw(url, `${charge}${bad}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    // The charge reached the vendor and was counted...
    expect(received.filter((line) => line === 'POST /v1/slow').length).toBe(1);
    expect((await vault.getKeyStatus(key.id)).spentUsd).toBe(5);
    // ...so its client must read its 200 first, not a 400 saying "it was not sent".
    expect(answer.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
    expect(received).not.toContain('POST /v1/charges');
  });

  it('should answer a charge in flight to a client that half-closes in the middle of the body of a request pipelined behind it', async () => {
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 100 });
    const before = received.filter((line) => line === 'POST /v1/slow').length;
    const charge = `POST /v1/slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key.vaultKey}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\namount=500`;
    const cut = `POST /v1/charges HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key.vaultKey}\r\nContent-Length: 100\r\n\r\namount=500`;
    const answer = await sendRaw(url, `${charge}${cut}`, { halfClose: true });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(received.filter((line) => line === 'POST /v1/slow').length).toBe(before + 1);
    expect((await vault.getKeyStatus(key.id)).spentUsd).toBe(5);
    // The charge went through: its client must read its 200.
    expect(answer).toContain('HTTP/1.1 200');
    expect(answer).toContain('{"charged":true}');
    expect(received).not.toContain('POST /v1/charges');
  });
});
