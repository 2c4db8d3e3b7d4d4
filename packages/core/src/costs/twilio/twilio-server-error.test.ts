import { describe, expect, it } from 'vitest';
import { costContext, costRequest, costResponse } from '../__fixtures__/cost-request.js';
import type { CostEstimate } from '../cost-model.js';
import { createTwilioCostModel } from './twilio-cost-model.js';

describe('Twilio settlement of a server error', () => {
  // twilio-cost-model.ts settle `response.status >= 500`: a plain 500 on a send may have sent the SMS.
  it('should keep the estimate of a send Twilio answered with exactly 500', () => {
    const model = createTwilioCostModel();
    const request = costRequest({
      path: '/2010-04-01/Accounts/ACplaceholder/Messages.json',
      form: { To: '+15558675310', Body: 'hi' },
    });
    const known: CostEstimate = { kind: 'known', micros: 8_300 };
    expect(model.settle(request, costResponse(500, undefined), known, costContext())).toMatchObject({
      kind: 'known',
      micros: 8_300,
    });
  });
});
