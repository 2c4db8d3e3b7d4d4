import { describe, expect, it } from 'vitest';
import { formatColumns, formatSpendBar, formatUsdAmount } from './format-spend-bar.js';

describe('formatSpendBar', () => {
  describe('when spend is below, at and above the cap', () => {
    it('should round down, so that only a reached cap shows a full bar', () => {
      expect(formatSpendBar(148, 150)).toBe(`${'█'.repeat(19)}░`);
      expect(formatSpendBar(150, 150)).toBe('█'.repeat(20));
      expect(formatSpendBar(151, 150)).toBe('█'.repeat(20));
      expect(formatSpendBar(0, 50)).toBe('░'.repeat(20));
      expect(formatSpendBar(5, 10, 4)).toBe('██░░');
    });
  });
});

describe('formatUsdAmount', () => {
  describe('when amounts are whole, cents or sub-cent', () => {
    it('should print them as core does', () => {
      expect([formatUsdAmount(148), formatUsdAmount(0.5), formatUsdAmount(0.0083)]).toEqual([
        '$148.00',
        '$0.50',
        '$0.0083',
      ]);
    });
  });
});

describe('formatColumns', () => {
  describe('when a column is right-aligned', () => {
    it('should pad every column to its widest cell', () => {
      expect(
        formatColumns(
          [
            ['billing', '$148.00 / $150.00', 'x'],
            ['notifications', '$0.75 / $50.00', 'y'],
          ],
          { right: [1] },
        ),
      ).toEqual(['billing        $148.00 / $150.00  x', 'notifications     $0.75 / $50.00  y']);
    });
  });
});
