// A fast loopback "Stripe" for the benchmark: answers every request with the same succeeded
// PaymentIntent (see upstream-body.ts).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PAYMENT_INTENT_BODY as body } from './upstream-body.js';

const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      'request-id': 'req_bench',
    });
    response.end(body);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () =>
  process.send?.({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
);
process.on('disconnect', () => process.exit(0));
