import { describe, expect, it } from 'vitest';
import { countSmsSegments } from './count-sms-segments.js';

describe('countSmsSegments', () => {
  describe('GSM-7 bodies', () => {
    it.each([
      [0, 1],
      [1, 1],
      [160, 1],
      [161, 2],
      [306, 2],
      [307, 3],
      [459, 3],
      [460, 4],
    ])('should bill %i plain characters as %i segment(s)', (length, segments) => {
      expect(countSmsSegments('a'.repeat(length))).toEqual({ encoding: 'GSM-7', segments, units: length });
    });

    it('should keep accented letters of the GSM alphabet in GSM-7', () => {
      expect(countSmsSegments('Café à Zürich, ¿qué? £5 @ 3€')).toMatchObject({ encoding: 'GSM-7', segments: 1 });
    });

    it.each(['^', '{', '}', '\\', '[', '~', ']', '|', '€'])(
      'should count the extension character %s as two septets',
      (character) => {
        expect(countSmsSegments(character.repeat(80))).toEqual({ encoding: 'GSM-7', segments: 1, units: 160 });
        expect(countSmsSegments(character.repeat(81))).toEqual({ encoding: 'GSM-7', segments: 2, units: 162 });
      },
    );

    it('should not split an extension character across two segments', () => {
      // 306 septets would fit two 153-septet parts, but '€' (2) after 152 septets opens the second one.
      expect(countSmsSegments(`${'a'.repeat(152)}€${'a'.repeat(152)}`)).toEqual({
        encoding: 'GSM-7',
        segments: 3,
        units: 306,
      });
    });
  });

  describe('UCS-2 bodies', () => {
    it.each([
      [70, 1],
      [71, 2],
      [134, 2],
      [135, 3],
    ])('should bill %i UCS-2 code units as %i segment(s)', (length, segments) => {
      expect(countSmsSegments(`ж${'a'.repeat(length - 1)}`)).toEqual({ encoding: 'UCS-2', segments, units: length });
    });

    it('should switch the whole body to UCS-2 for a single character outside GSM-7', () => {
      expect(countSmsSegments(`${'a'.repeat(100)}ç`)).toEqual({ encoding: 'UCS-2', segments: 2, units: 101 });
    });

    it('should count an emoji as two UTF-16 code units', () => {
      expect(countSmsSegments('Hi 👋')).toEqual({ encoding: 'UCS-2', segments: 1, units: 5 });
    });

    it('should not split a surrogate pair across two segments', () => {
      // 67 emoji = 134 code units: two 67-unit parts would split a pair, so each part holds 33.
      expect(countSmsSegments('😀'.repeat(67))).toEqual({ encoding: 'UCS-2', segments: 3, units: 134 });
    });

    it('should not split an emoji with its joiners or a letter with its accents, as Twilio does', () => {
      // Twilio's segment calculator fills UCS-2 segments by whole characters: 👨‍👩‍👧‍👦 is 11 units.
      expect(countSmsSegments(`${'Привет 👨‍👩‍👧‍👦'.repeat(4)}${'ж'.repeat(57)}`)).toMatchObject({ segments: 3 });
      expect(countSmsSegments(`a${'\u0301'.repeat(33)}`.repeat(10))).toMatchObject({ segments: 10 });
      // …but a CRLF is two characters there.
      expect(countSmsSegments(`ж${'\r\n'.repeat(67)}`)).toMatchObject({ segments: 3, units: 135 });
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
    ])('should count at least as many segments as Twilio for %s', (_, body, atLeast) => {
      expect(countSmsSegments(body).segments).toBeGreaterThanOrEqual(atLeast);
    });

    it('should count extension characters as one code unit once in UCS-2', () => {
      expect(countSmsSegments(`ж${'€'.repeat(69)}`)).toEqual({ encoding: 'UCS-2', segments: 1, units: 70 });
    });
  });
});
