import { describe, expect, it } from 'vitest';
import { createFxTable } from './fx-table.js';
import { toMicroUsd } from './micro-usd.js';

describe('money at its edges', () => {
  // fx-table.ts `numerator < 0n ? quotient`: a credit's fraction of a micro-dollar rounds toward
  // zero (up, as a charge does), never one micro-dollar past it.
  it('should round a credit of a fraction of a micro-dollar up to the next micro-dollar, not past it', () => {
    const fx = createFxTable({ jpy: '0.0000015' });
    expect(fx.toMicroUsd(1, 'jpy')).toBe(2); // 1.5 → 2
    expect(fx.toMicroUsd(-1, 'jpy')).toBe(-1); // -1.5 → -1
    expect(fx.toMicroUsd(-3, 'jpy')).toBe(-4); // -4.5 → -4
  });

  // micro-usd.ts: trailing zeros past the sixth decimal are not "finer than a micro-dollar".
  it('should accept trailing zeros past the sixth decimal', () => {
    expect(toMicroUsd('1.50000000')).toBe(1_500_000);
  });
});
