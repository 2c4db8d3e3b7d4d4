// The proxy at the HTTP level, over raw loopback sockets: what it passes on from the vendor's
// answer, and what it never runs. The upstream answers by path.
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { createBearerVendor, createFixedPriceCostModel, createVault, type Vault } from '@keybrake/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProxyLogger } from '../logging/create-proxy-logger.js';
import { sendRaw } from '../test-utils/send-raw.js';
import { createProxyServer, type ProxyServer } from './create-proxy-server.js';

const SECRET = 'acme_live_secret_0123456789abcdef';

describe('the proxy at the HTTP level', () => {
  const received: string[] = [];
  const upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received.push(`${req.method} ${req.url}`);
      if (req.url === '/v1/gzip') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
        res.end(gzipSync(JSON.stringify({ ok: true })));
      } else if (req.url === '/v1/head') {
        res.writeHead(200, { 'content-length': '1234' });
        res.end();
      } else if (req.url === '/v1/hop') {
        res.writeHead(200, {
          'content-type': 'application/json',
          connection: 'keep-alive, x-internal-hop',
          'x-internal-hop': 'internal',
          'proxy-authenticate': 'Basic realm="upstream"',
        });
        res.end('{"ok":true}');
      } else if (req.url === '/v1/trailer') {
        res.writeHead(200, { 'content-type': 'application/json', trailer: 'x-checksum' });
        res.write('{"ok":true}');
        res.addTrailers({ 'x-checksum': 'abc' });
        res.end();
      } else if (req.url === '/v1/slow') {
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"charged":true}');
        }, 150);
      } else if (req.url === '/v1/empty') {
        res.writeHead(204);
        res.end();
      } else if (req.url === '/v1/trickle') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"pad":"');
        const drip = setInterval(() => res.write('x'), 100);
        res.on('close', () => clearInterval(drip));
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      }
    });
  });
  let vault: Vault;
  let proxy: ProxyServer;
  let url: string;
  let vaultKey: string;

  beforeAll(async () => {
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const { port } = upstream.address() as AddressInfo;
    vault = createVault({
      vendors: {
        acme: createBearerVendor({
          name: 'acme',
          baseUrl: `http://127.0.0.1:${port}`,
          costModel: createFixedPriceCostModel({
            prices: {
              'POST /v1/charges': '5.00',
              'POST /v1/trailer': '5.00',
              'POST /v1/trickle': '5.00',
              'POST /v1/slow': '5.00',
              'GET /**': 0,
              'HEAD /**': 0,
              'DELETE /**': 0,
            },
          }),
        }),
      },
      secrets: { acme: SECRET },
      upstreamTimeout: '1s',
    });
    proxy = createProxyServer({
      vault,
      adminToken: 'admin-token-0123456789-abcdef',
      maxBodyBytes: 4096,
      logger: createProxyLogger({ level: 'silent' }),
    });
    url = await proxy.listen({ port: 0 });
    vaultKey = (await vault.issueKey({ vendor: 'acme', capUsd: 100 })).vaultKey;
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise((resolve) => upstream.close(resolve));
  });

  const get = (path: string) => fetch(`${url}${path}`, { headers: { authorization: `Bearer ${vaultKey}` } });

  it('should never run a request pipelined behind an answer that closed the connection', async () => {
    const before = received.filter((line) => line === 'POST /v1/charges').length;
    const big = 'a'.repeat(5000);
    const head = `POST /v1/charges HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${vaultKey}\r\nContent-Type: application/x-www-form-urlencoded\r\n`;
    const answer = await sendRaw(
      url,
      `${head}Content-Length: ${big.length}\r\n\r\n${big}${head}Content-Length: 10\r\n\r\namount=500`,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(answer.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 413']);
    expect(received.filter((line) => line === 'POST /v1/charges').length).toBe(before);
  });

  describe('when a charge is still in flight on the connection', () => {
    const charge = (key = vaultKey) =>
      `POST /v1/slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\namount=500`;

    it("should send the charge's answer before the 400 of a malformed request pipelined behind it", async () => {
      const answer = await sendRaw(url, `${charge()}NOT A REQUEST\r\n\r\n`);
      expect(answer.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
      expect(answer).toContain('{"charged":true}');
      expect(answer).toMatch(/HTTP\/1\.1 400 .*connection: close.*"code":"KEYBRAKE_INVALID_REQUEST"/is);
    });

    it('should still answer a client that half-closed its side after sending it', async () => {
      const answer = await sendRaw(url, charge(), { halfClose: true });
      expect(answer.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200']);
      expect(answer).toContain('{"charged":true}');
    });

    /**
     * Sends a charge on a key of its own, then `next` behind it, whose body turns out unreadable;
     * checks that the charge reached the vendor and was counted, and that `next` was never sent.
     */
    const behindCharge = async (next: (key: string) => string, options: { halfClose?: boolean } = {}) => {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 100 });
      const count = (line: string) => received.filter((each) => each === line).length;
      const [slow, charges] = [count('POST /v1/slow'), count('POST /v1/charges')];
      const answer = await sendRaw(url, `${charge(key.vaultKey)}${next(key.vaultKey)}`, options);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(count('POST /v1/slow') - slow).toBe(1);
      expect(count('POST /v1/charges')).toBe(charges);
      expect((await vault.getKeyStatus(key.id)).spentUsd).toBe(5);
      return answer;
    };

    // Node emits 'request' for the second request (its headers are fine); its chunked body is not.
    it("should send the charge's answer before the 400 of a request pipelined behind it whose body is malformed", async () => {
      const answer = await behindCharge(
        (key) =>
          `POST /v1/charges HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n`,
      );
      expect(answer.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 400']);
      expect(answer).toContain('{"charged":true}');
    });

    it('should answer the charge to a client that half-closes in the middle of the body of a request pipelined behind it', async () => {
      const answer = await behindCharge(
        (key) =>
          `POST /v1/charges HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\nContent-Length: 100\r\n\r\namount=500`,
        { halfClose: true },
      );
      expect(answer).toMatch(/^HTTP\/1\.1 200/);
      expect(answer).toContain('{"charged":true}');
    });
  });

  it('should close, not wait, when a client half-closes in the middle of a body, and send nothing on', async () => {
    const before = received.length;
    const answer = await sendRaw(
      url,
      `POST /v1/slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${vaultKey}\r\nContent-Length: 100\r\n\r\namount=500`,
      { halfClose: true },
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(answer).not.toContain('HTTP/1.1 200');
    expect(received.length).toBe(before);
  });

  describe('when a client asks for 100 Continue before sending its body', () => {
    const head = (length: number) =>
      `POST /v1/charges HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${vaultKey}\r\nContent-Type: application/x-www-form-urlencoded\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: ${length}\r\n\r\n`;

    it('should answer 413 at once, not 100 Continue, when the declared body is over the limit', async () => {
      const before = received.length;
      const answer = await sendRaw(url, head(5000));
      expect(answer).not.toContain('100 Continue');
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
      expect(answer).toContain('"code":"KEYBRAKE_INVALID_REQUEST"');
      expect(received.length).toBe(before);
    });

    it('should answer 100 Continue to a body within the limit, then the call', async () => {
      const answer = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(new URL(url).port), '127.0.0.1', () => socket.write(head(10)));
        let text = '';
        socket.on('data', (chunk) => {
          text += chunk.toString('utf8');
          if (text === 'HTTP/1.1 100 Continue\r\n\r\n') socket.write('amount=500');
        });
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
      });
      expect(answer.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 100', 'HTTP/1.1 200']);
      expect(answer).toContain('{"ok":true}');
    });

    it("should answer 413 at once to an admin call over the admin API's body limit", async () => {
      const answer = await sendRaw(
        url,
        'POST /vault/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer admin-token-0123456789-abcdef\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nConnection: close\r\nContent-Length: 70000\r\n\r\n',
      );
      expect(answer).not.toContain('100 Continue');
      expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    });
  });

  it("should answer a malformed request with a 400 in the proxy's error shape", async () => {
    const answer = await sendRaw(url, 'NOT A REQUEST\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(answer).toMatch(/\r\n\r\n\{"error":\{"code":"KEYBRAKE_INVALID_REQUEST","message":"[^"]+"\}\}$/);
  });

  it('should answer a charged call whose answer carries a Trailer header, not fail it with a 500', async () => {
    const response = await fetch(`${url}/v1/trailer`, {
      method: 'POST',
      headers: { authorization: `Bearer ${vaultKey}` },
      body: 'amount=500',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });

  it("should drop the vendor's hop-by-hop headers, those its Connection header names included", async () => {
    const response = await get('/v1/hop');
    expect(response.status).toBe(200);
    expect(response.headers.get('x-internal-hop')).toBeNull();
    expect(response.headers.get('proxy-authenticate')).toBeNull();
  });

  it('should decode an answer the vendor compressed although identity was asked for', async () => {
    const response = await get('/v1/gzip');
    expect(response.headers.get('content-encoding')).toBeNull();
    expect(await response.json()).toEqual({ ok: true });
  });

  it("should keep a HEAD answer's length and send none with a 204", async () => {
    const headers = await new Promise<IncomingMessage['headers']>((resolve, reject) => {
      const req = httpRequest(
        `${url}/v1/head`,
        { method: 'HEAD', headers: { authorization: `Bearer ${vaultKey}` } },
        (res) => {
          res.resume();
          resolve(res.headers);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(headers['content-length']).toBe('1234');
    const empty = await sendRaw(
      url,
      `DELETE /v1/empty HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${vaultKey}\r\nConnection: close\r\n\r\n`,
    );
    expect(empty.startsWith('HTTP/1.1 204')).toBe(true);
    expect(empty.toLowerCase()).not.toContain('content-length');
  });

  it('should bound a vendor answer that never ends by upstreamTimeout, keeping its estimate counted', async () => {
    const key = await vault.issueKey({ vendor: 'acme', capUsd: 100 });
    const started = Date.now();
    const response = await fetch(`${url}/v1/trickle`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.vaultKey}` },
      body: 'amount=500',
      signal: AbortSignal.timeout(5000),
    });
    expect(response.status).toBe(504);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await vault.getKeyStatus(key.id)).toMatchObject({ spentUsd: 5, reservedUsd: 0 });
  });
});
