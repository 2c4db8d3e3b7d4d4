import { describe, expect, it } from 'vitest';
import { matchesEndpoint, parseEndpointPattern, patternIsCoveredBy } from './endpoint-matcher.js';
import { normalizePath } from './normalize-path.js';

describe('endpoint patterns at their edges', () => {
  // patternIsCoveredBy: a child pattern longer or shorter than its parent's is not covered.
  it('should not let a child pattern that is longer or shorter than the parent count as covered', () => {
    const parents = [parseEndpointPattern('GET /v1/customers/*')];
    expect(patternIsCoveredBy(parseEndpointPattern('GET /v1/customers/*/sources'), parents)).toBe(false);
    expect(patternIsCoveredBy(parseEndpointPattern('GET /v1/customers'), parents)).toBe(false);
    expect(patternIsCoveredBy(parseEndpointPattern('GET /v1/customers/cus_1'), parents)).toBe(true);
  });

  // The `*` method: in a parent it covers any method, in a pattern it matches any method.
  it('should treat a "*" method as any method, for matching and for covering', () => {
    const any = parseEndpointPattern('* /v1/**');
    expect(matchesEndpoint(any, 'DELETE', '/v1/items/1')).toBe(true);
    expect(patternIsCoveredBy(parseEndpointPattern('POST /v1/charges'), [any])).toBe(true);
  });

  // normalize-path.ts: DEL (0x7f) is a control character too.
  it('should refuse a DEL character in a path', () => {
    expect(normalizePath('/v1/charges%7F')).toEqual({ ok: false, reason: 'control character' });
  });
});
