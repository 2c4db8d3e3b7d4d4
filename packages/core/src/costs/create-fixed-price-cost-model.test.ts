import { describe, expect, it } from 'vitest';
import { costContext, costRequest, costResponse } from './__fixtures__/cost-request.js';
import { createFixedPriceCostModel } from './create-fixed-price-cost-model.js';

describe('createFixedPriceCostModel', () => {
  const model = createFixedPriceCostModel({ prices: { 'POST /v1/generate': '2.00', 'GET /**': 0 } });
  const request = costRequest({ method: 'POST', path: '/v1/generate', json: {} });

  it('should settle at the price on 2xx and 5xx (the vendor may have billed), and at 0 on 4xx', async () => {
    const estimate = await model.estimate(request, costContext());
    expect(estimate).toEqual({ kind: 'known', micros: 2_000_000 });
    const settled = (status: number) => model.settle(request, costResponse(status, {}), estimate, costContext());
    expect([200, 502, 504, 400, 429].map((status) => settled(status))).toEqual([
      { kind: 'known', micros: 2_000_000 },
      { kind: 'known', micros: 2_000_000 },
      { kind: 'known', micros: 2_000_000 },
      { kind: 'known', micros: 0 },
      { kind: 'known', micros: 0 },
    ]);
  });

  it('should call an endpoint with no price unknown', async () => {
    expect(await model.estimate(costRequest({ method: 'POST', path: '/v1/other' }), costContext())).toMatchObject({
      kind: 'unknown',
    });
  });
});
