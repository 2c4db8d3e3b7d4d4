import { describe, expect, it } from 'vitest';
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import { matchesEndpoint, parseEndpointPattern, patternIsCoveredBy } from './endpoint-matcher.js';

describe('matchesEndpoint', () => {
  describe('when the pattern is exact', () => {
    it('should match only that method and path', () => {
      const pattern = parseEndpointPattern('POST /v1/payment_intents');
      expect(matchesEndpoint(pattern, 'POST', '/v1/payment_intents')).toBe(true);
      expect(matchesEndpoint(pattern, 'GET', '/v1/payment_intents')).toBe(false);
      expect(matchesEndpoint(pattern, 'POST', '/v1/payment_intents/pi_1/confirm')).toBe(false);
    });
  });

  describe('when the pattern has wildcards', () => {
    it('should let * match exactly one segment', () => {
      const pattern = parseEndpointPattern('GET /v1/customers/*');
      expect(matchesEndpoint(pattern, 'GET', '/v1/customers/cus_1')).toBe(true);
      expect(matchesEndpoint(pattern, 'GET', '/v1/customers')).toBe(false);
      expect(matchesEndpoint(pattern, 'GET', '/v1/customers/cus_1/sources')).toBe(false);
    });

    it('should let ** match any depth', () => {
      const pattern = parseEndpointPattern('POST /v1/payment_intents/**');
      expect(matchesEndpoint(pattern, 'POST', '/v1/payment_intents')).toBe(true);
      expect(matchesEndpoint(pattern, 'POST', '/v1/payment_intents/pi_1/capture')).toBe(true);
      expect(matchesEndpoint(pattern, 'POST', '/v1/refunds')).toBe(false);
    });
  });

  describe('when a pattern has several ** and the path is long', () => {
    it('should answer right, trying each position once: a path the agent picks cannot stall the proxy', () => {
      // Tried naively, the last two take minutes: every split of a thousand segments among four **.
      const pattern = parseEndpointPattern('GET /v1/**/a/**/**/b/**/x');
      expect(pattern.source).toBe('GET /v1/**/a/**/b/**/x');
      const long = `/v1${'/a'.repeat(1000)}`;
      expect(matchesEndpoint(pattern, 'GET', `${long}/b/c/x`)).toBe(true);
      expect(matchesEndpoint(pattern, 'GET', long)).toBe(false);
      expect(matchesEndpoint(parseEndpointPattern('GET /v1/**/q/**/r/**/s/**/x'), 'GET', `${long}/z`)).toBe(false);
      const child = parseEndpointPattern(`GET /v1${'/a'.repeat(200)}/z`);
      expect(patternIsCoveredBy(child, [parseEndpointPattern('GET /v1/**/q/**/r/**/s/**/x')])).toBe(false);
    });
  });

  describe('when a segment only spells a wildcard', () => {
    it('should keep it literal', () => {
      expect(matchesEndpoint(parseEndpointPattern('DELETE /v1/repos/STAR'), 'DELETE', '/v1/repos/everything')).toBe(
        false,
      );
      expect(matchesEndpoint(parseEndpointPattern('GET /v1/STARTUP'), 'GET', '/v1/STARTUP')).toBe(true);
    });
  });

  describe('when an entry is malformed', () => {
    it.each([
      '/v1/charges',
      'FETCH /v1/charges',
      'POST v1/charges',
      'GET /v1/cus*',
      'GET /v1/customers/%2A',
      'GET /v1/customers/%2a',
    ])('should refuse %s', (entry) => {
      expect(() => parseEndpointPattern(entry)).toThrow(InvalidPolicyError);
    });
  });
});

describe('patternIsCoveredBy', () => {
  it('should accept a narrower child and refuse a wider one', () => {
    const parent = ['POST /v1/payment_intents/**', 'GET /v1/customers/*'].map(parseEndpointPattern);
    expect(patternIsCoveredBy(parseEndpointPattern('POST /v1/payment_intents/*/capture'), parent)).toBe(true);
    expect(patternIsCoveredBy(parseEndpointPattern('GET /v1/customers/*'), parent)).toBe(true);
    expect(patternIsCoveredBy(parseEndpointPattern('GET /v1/customers/**'), parent)).toBe(false);
    expect(patternIsCoveredBy(parseEndpointPattern('POST /v1/refunds'), parent)).toBe(false);
  });
});
