// The floor reference: a bare Node pass-through proxy (node:http in, undici pool out, no checks).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

const upstream = process.env.BENCH_UPSTREAM as string;
const pool = new Pool(upstream, { connections: 128 });

const server = createServer(async (request, response) => {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (typeof value === 'string' && name !== 'host' && name !== 'connection' && name !== 'content-length')
      headers[name] = value;
  }
  try {
    const answer = await pool.request({
      path: request.url ?? '/',
      method: (request.method ?? 'GET') as 'POST',
      headers,
      body: chunks.length ? Buffer.concat(chunks) : null,
    });
    const bytes = Buffer.from(await answer.body.arrayBuffer());
    response.writeHead(answer.statusCode, {
      'content-type': String(answer.headers['content-type'] ?? 'application/json'),
      'content-length': bytes.length,
    });
    response.end(bytes);
  } catch {
    response.writeHead(502).end();
  }
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () =>
  process.send?.({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
);
process.on('disconnect', () => process.exit(0));
