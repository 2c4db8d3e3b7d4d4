import { describe, expect, it } from 'vitest';
import { countSmsSegments } from './count-sms-segments.js';

describe('countSmsSegments', () => {
  describe('when the body is GSM-7', () => {
    it('should fit 160 characters in one segment', () => {
      expect(countSmsSegments('a'.repeat(160))).toEqual({ encoding: 'GSM-7', segments: 1, units: 160 });
    });

    it('should split 161 characters into two segments of 153', () => {
      expect(countSmsSegments('a'.repeat(161)).segments).toBe(2);
      expect(countSmsSegments('a'.repeat(306)).segments).toBe(2);
      expect(countSmsSegments('a'.repeat(307)).segments).toBe(3);
    });

    it('should count extension characters as two septets', () => {
      expect(countSmsSegments('€'.repeat(80))).toEqual({ encoding: 'GSM-7', segments: 1, units: 160 });
      expect(countSmsSegments('€'.repeat(81)).segments).toBe(2);
    });

    it('should not split an escape pair across segments', () => {
      // 152 septets then a 2-septet character: the pair moves to the second segment.
      expect(countSmsSegments(`${'a'.repeat(152)}{${'a'.repeat(152)}`).segments).toBe(3);
    });
  });

  describe('when the body has a character outside GSM-7', () => {
    it('should fit 70 UCS-2 code units in one segment', () => {
      expect(countSmsSegments(`${'a'.repeat(69)}ç`)).toEqual({ encoding: 'UCS-2', segments: 1, units: 70 });
    });

    it('should split a 71-character body with one emoji into two segments', () => {
      const body = `${'a'.repeat(70)}🙂`;
      expect([...body]).toHaveLength(71);
      expect(countSmsSegments(body)).toEqual({ encoding: 'UCS-2', segments: 2, units: 72 });
    });

    it('should not split a surrogate pair across segments', () => {
      expect(countSmsSegments(`${'a'.repeat(66)}🙂${'a'.repeat(66)}`).segments).toBe(3);
    });

    it('should not split an emoji with its joiners or a letter with its accents across segments', () => {
      expect(countSmsSegments(`${'Привет 👨‍👩‍👧‍👦'.repeat(4)}${'ж'.repeat(57)}`).segments).toBe(3);
      expect(countSmsSegments(`a${'\u0301'.repeat(33)}`.repeat(10)).segments).toBe(10);
    });
  });
});
