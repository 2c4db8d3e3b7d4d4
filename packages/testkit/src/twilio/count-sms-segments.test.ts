import fc from 'fast-check';
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

    it.each([
      // Twilio's calculator joins these to the character before (older grapheme rules): counted as it does.
      ['a ZWJ and a pictograph after a letter', `中${'a'.repeat(64)}a\u200d❤${'a'.repeat(66)}`, 3],
      ['U+1CF2 after a letter', `中${'a'.repeat(65)}a\u1cf2${'a'.repeat(66)}`, 3],
      ['U+11720 after a letter', `中${'a'.repeat(65)}a\u{11720}${'a'.repeat(65)}`, 3],
      ['a letter after U+11A3A', `中${'a'.repeat(64)}\u{11a3a}a${'a'.repeat(66)}`, 3],
      ['a mark after U+13430', `中${'a'.repeat(64)}\u{13430}\u0301${'a'.repeat(66)}`, 3],
      ['199 × U+1AC0 after a letter', `a${'\u1ac0'.repeat(199)}`, 3],
      // A character longer than a segment can carry is sent over several, as it must be.
      ['a letter with 199 accents (200 units)', `e${'\u0301'.repeat(199)}`, 3],
      ['a letter with 69 accents, then text', `e${'\u0301'.repeat(69)}${'a'.repeat(60)}`, 3],
      ['a flag with 100 tag characters (202 units)', `🏴${'\u{e0067}'.repeat(100)}`, 4],
      ['a ZWJ chain of 533 thumbs', `👍${'\u200d👍'.repeat(532)}`, 24],
    ])("should bill at least as many segments as Twilio's calculator for %s", (_, body, atLeast) => {
      expect(countSmsSegments(body).segments).toBeGreaterThanOrEqual(atLeast);
    });

    it('should never bill fewer segments than a body needs at 67 code units (or 153 septets) each', () => {
      const atoms = [
        'a',
        'ж',
        '€',
        '\r\n',
        '😀',
        '👨‍👩‍👧‍👦',
        '\u0301',
        '\u200d',
        '🏽',
        '🇺🇸',
        '\u1ac0',
        '\u{e0067}',
        'क्ष',
      ];
      fc.assert(
        fc.property(fc.array(fc.constantFrom(...atoms), { maxLength: 400 }), (parts) => {
          const { encoding, units, segments } = countSmsSegments(parts.join(''));
          const [single, part] = encoding === 'GSM-7' ? [160, 153] : [70, 67];
          expect(segments).toBeGreaterThanOrEqual(units <= single ? 1 : Math.ceil(units / part));
        }),
        { numRuns: 500 },
      );
    });

    it('should not split an emoji with its joiners or a letter with its accents across segments', () => {
      expect(countSmsSegments(`${'Привет 👨‍👩‍👧‍👦'.repeat(4)}${'ж'.repeat(57)}`).segments).toBe(3);
      expect(countSmsSegments(`a${'\u0301'.repeat(33)}`.repeat(10)).segments).toBe(10);
    });
  });
});
