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

    it('should count extension characters as one code unit once in UCS-2', () => {
      expect(countSmsSegments(`ж${'€'.repeat(69)}`)).toEqual({ encoding: 'UCS-2', segments: 1, units: 70 });
    });
  });
});
