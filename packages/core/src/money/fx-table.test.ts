import { describe, expect, it } from 'vitest';
import { createFixedPriceCostModel } from '../costs/create-fixed-price-cost-model.js';
import { UnknownCurrencyError } from '../errors/unknown-currency-error.js';
import { createFxTable, parseFxRates } from './fx-table.js';
import { formatUsd, toMicroUsd } from './micro-usd.js';

describe('createFxTable', () => {
  const fx = createFxTable({ jpy: '0.0067', kwd: '3.25', eur: 1.08 });

  it('should convert USD cents exactly', () => {
    expect(fx.toMicroUsd(2000, 'usd')).toBe(20_000_000);
    expect(fx.toMicroUsd(1, 'USD')).toBe(10_000);
  });

  it('should treat JPY as zero-decimal', () => {
    expect(fx.toMicroUsd(1000, 'jpy')).toBe(6_700_000);
  });

  it('should treat KWD as three-decimal', () => {
    expect(fx.toMicroUsd(1500, 'kwd')).toBe(4_875_000);
  });

  it('should round up so money is never undercounted', () => {
    expect(fx.toMicroUsd(1, 'jpy')).toBe(6_700);
    expect(createFxTable({ eur: '1.0800001' }).toMicroUsd(1, 'eur')).toBe(10_801);
  });

  it('should round a rate finer than 12 places up, and take a number rate as written', () => {
    expect(createFxTable({ eur: '1.0000000000001' }).toMicroUsd(100, 'eur')).toBe(1_000_001);
    expect(createFxTable({ eur: 1.0000000000004 }).toMicroUsd(100, 'eur')).toBe(1_000_001);
    expect(createFxTable({ eur: 1.08 }).toMicroUsd(1000, 'eur')).toBe(10_800_000);
    expect(createFxTable({ xau: 1e-7 }).toMicroUsd(10_000_000, 'xau')).toBe(10_000);
  });

  it('should refuse an amount whose micro-dollars a Number cannot hold, not round it down', () => {
    expect(() => createFxTable({ krw: '52.81' }).toMicroUsd(5_628_002_146_258_950, 'krw')).toThrow(
      /too large to count in micro-dollars/,
    );
    expect(() => fx.toMicroUsd(-Number.MAX_SAFE_INTEGER, 'usd')).toThrow(/too large/); // a credit too
  });

  it('should refuse a currency with no rate', () => {
    expect(() => fx.toMicroUsd(100, 'gbp')).toThrow(UnknownCurrencyError);
  });

  it('should parse the CLI format', () => {
    expect(parseFxRates('jpy=0.0067, EUR=1.08')).toEqual({ jpy: '0.0067', eur: '1.08' });
  });

  it('should refuse an entry with a second "=" and a USD rate other than 1', () => {
    expect(() => parseFxRates('jpy=0.0067=5')).toThrow(/Invalid FX entry "jpy=0.0067=5"/);
    // usd=0.01 would count a $20 charge as $0.20.
    expect(() => createFxTable(parseFxRates('usd=0.01'))).toThrow(/USD is always 1/);
    expect(createFxTable({ USD: '1.000', jpy: '0.0067' }).toMicroUsd(2000, 'usd')).toBe(20_000_000);
  });
});

describe('toMicroUsd', () => {
  it('should be exact where floats are not', () => {
    expect(toMicroUsd(0.1 + 0.2)).toBe(300_000);
    expect(toMicroUsd('0.0083')).toBe(8_300);
    expect(toMicroUsd(150)).toBe(150_000_000);
    expect(() => toMicroUsd('0.0000001')).toThrow();
    expect(() => toMicroUsd(-1)).toThrow();
  });

  it('should never round a number finer than a micro-dollar, down to 0 or otherwise', () => {
    for (const finer of [4e-8, 5e-8, 6e-8, 1.00000004, 0.0000005]) {
      expect(() => toMicroUsd(finer)).toThrow(/finer than one micro-dollar/);
    }
    expect(() => createFixedPriceCostModel({ prices: { 'POST /v1/embed': 0.00000005 } })).toThrow(
      /finer than one micro-dollar/,
    );
  });

  it('should take a large number that is a whole number of micro-dollars, as its string is', () => {
    expect(toMicroUsd(605626940.727233)).toBe(605_626_940_727_233);
    expect(toMicroUsd('605626940.727233')).toBe(605_626_940_727_233);
  });

  it('should format for people', () => {
    expect(formatUsd(150_000_000)).toBe('$150.00');
    expect(formatUsd(8_300)).toBe('$0.0083');
    expect(formatUsd(16_600)).toBe('$0.0166');
  });
});
