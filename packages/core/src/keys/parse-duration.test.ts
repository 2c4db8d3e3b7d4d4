import { describe, expect, it } from 'vitest';
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import { parseDuration } from './parse-duration.js';

describe('parseDuration', () => {
  it('should read seconds and unit strings', () => {
    expect(parseDuration(90)).toBe(90_000);
    expect(parseDuration(0.1)).toBe(100);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration(' 30m ')).toBe(1_800_000);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(parseDuration('7d')).toBe(604_800_000);
  });

  it('should never round a positive duration to 0, which timeouts read as "none"', () => {
    expect(parseDuration(0.0004)).toBe(1);
    expect(parseDuration('0.4ms')).toBe(1);
  });

  it('should refuse zero, negative, non-finite and unreadable durations', () => {
    const huge = ['1e306', 1e306, '9'.repeat(320), `${'9'.repeat(14)}d`];
    for (const value of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '0s', '-5m', '1w', '', 'soon', ...huge]) {
      expect(() => parseDuration(value)).toThrow(InvalidPolicyError);
    }
  });
});
