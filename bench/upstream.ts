// A fast loopback "Stripe" for the benchmark: answers every request with the same succeeded
// PaymentIntent — Stripe's own example object (as the testkit ships it), so the vault parses a
// response of the real size and shape.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const fixtures = JSON.parse(
  readFileSync(new URL('../packages/testkit/src/__fixtures__/stripe-objects.json', import.meta.url), 'utf8'),
) as { resources: { payment_intent: Record<string, unknown> } };
const body = JSON.stringify({
  ...fixtures.resources.payment_intent,
  id: 'pi_bench',
  amount: 100,
  amount_received: 100,
  currency: 'usd',
  status: 'succeeded',
});

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
