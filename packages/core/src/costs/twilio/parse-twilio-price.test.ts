import { describe, expect, it } from 'vitest';
import { createFxTable } from '../../money/fx-table.js';
import { parseTwilioPrice } from './parse-twilio-price.js';

const fx = createFxTable({ eur: '1.08', jpy: '0.0067' });

describe('parseTwilioPrice', () => {
  describe('prices Twilio reports', () => {
    it('should convert a negative USD price with more decimals than cents exactly', () => {
      expect(parseTwilioPrice('-0.00830', 'USD', fx)).toBe(8_300);
    });

    it('should convert a price in another currency through its rate', () => {
      expect(parseTwilioPrice('-0.0075', 'EUR', fx)).toBe(8_100);
    });

    it('should convert a zero-decimal currency', () => {
      expect(parseTwilioPrice('-12', 'JPY', fx)).toBe(80_400);
    });

    it('should round a fraction of a micro-dollar up', () => {
      expect(parseTwilioPrice('-0.0000001', 'USD', fx)).toBe(1);
    });

    it('should accept a numeric price and a zero price', () => {
      expect(parseTwilioPrice(-0.0079, 'USD', fx)).toBe(7_900);
      expect(parseTwilioPrice('0.00000', 'USD', fx)).toBe(0);
    });

    it('should default a missing price_unit to USD', () => {
      expect(parseTwilioPrice('-0.0079', null, fx)).toBe(7_900);
    });
  });

  describe('prices not known yet or unusable', () => {
    it.each([null, undefined, '', 'n/a', {}])('should return undefined for %j', (price) => {
      expect(parseTwilioPrice(price, 'USD', fx)).toBeUndefined();
    });

    it('should return undefined for a currency without an FX rate', () => {
      expect(parseTwilioPrice('-0.04', 'GBP', fx)).toBeUndefined();
    });
  });
});
