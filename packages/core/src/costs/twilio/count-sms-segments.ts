/** Options of {@link countSmsSegments}. */
export interface SmsSegmentOptions {
  /**
   * Only ASCII characters (0–127) are sent as GSM-7; any other GSM character (`é`, `£`, `€`…)
   * switches the body to UCS-2. So Twilio's segment calculator counts for Malaysia (+60), whose
   * carriers take only ASCII in GSM-7; the Twilio cost model sets it for +60 numbers.
   * @default false
   */
  asciiOnly?: boolean | undefined;
}

/** How an SMS body is encoded and how many billable segments it takes. */
export interface SmsSegments {
  /** `GSM-7` if every character is in the GSM 03.38 alphabet (with its extension table), else `UCS-2`. */
  encoding: 'GSM-7' | 'UCS-2';
  /** Billable segments, at least 1. */
  segments: number;
  /** Septets (GSM-7, extension characters count 2) or UTF-16 code units (UCS-2). */
  units: number;
}

// GSM 03.38 basic character set (without the escape character itself).
const GSM_BASIC = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
// GSM 03.38 extension table: each is sent as escape + character, two septets.
const GSM_EXTENSION = new Set('^{}\\[~]|€\f');

const GSM_SINGLE = 160;
const GSM_PART = 153;
const UCS2_SINGLE = 70;
const UCS2_PART = 67;

/** Whole user-perceived characters (an emoji with its joiners, a letter with its accents). */
const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });
/** What Twilio's calculator (older Unicode rules) also joins to the character before it. */
const GLUE_TO_PREVIOUS = /^(?:\p{M}|\u200d|\u1cf2|\u1cf3)/u;
const PICTOGRAPH = /^\p{Extended_Pictographic}/u;

/** One unit of filling: its size, whether it starts a segment, whether it ends its segment. */
type Item = readonly [size: number, fresh: boolean, closes: boolean];

/**
 * A UCS-2 body as Twilio's segment calculator fills it: by characters at least as whole as both
 * today's grapheme rules and the older ones it uses (so never more finely split, which would count
 * fewer segments); a `\r\n` as two; and a character longer than a segment can carry (a letter
 * with 70 accents) in segments of its own, split by code point, as it must be when sent.
 */
function ucs2Items(body: string): Item[] {
  const clusters: string[] = [];
  for (const { segment } of graphemes.segment(body)) {
    const previous = clusters.at(-1);
    const glued =
      previous !== undefined &&
      !/[\r\n]$/.test(previous) &&
      (GLUE_TO_PREVIOUS.test(segment) ||
        (previous.endsWith('\u200d') && PICTOGRAPH.test(segment)) ||
        previous.endsWith('\u{11a3a}'));
    if (glued) clusters[clusters.length - 1] += segment;
    else clusters.push(segment);
  }
  return clusters.flatMap((cluster): Item[] => {
    if (cluster === '\r\n')
      return [
        [1, false, false],
        [1, false, false],
      ];
    if (cluster.length <= UCS2_PART) return [[cluster.length, false, false]];
    const points = [...cluster];
    return points.map((point, index) => [point.length, index === 0, index === points.length - 1]);
  });
}

/**
 * Counts the SMS segments of a message body the way carriers bill them. A body of GSM-7
 * characters fits 160 septets in one segment, or 153 per segment when split (extension characters
 * `^{}\[~]|€` take two septets and are never split across segments). A single character outside
 * GSM-7 switches the whole body to UCS-2: 70 UTF-16 code units in one segment, or 67 per segment
 * when split, filled by whole characters as Twilio's segment calculator does (an emoji with its
 * joiners or a letter with its accents is never split, unless it is longer than a segment; `\r\n`
 * counts as two). An empty body is one segment.
 *
 * @param body - The message text as sent in Twilio's `Body`.
 * @param options - {@link SmsSegmentOptions}: for a destination whose carriers take only ASCII in GSM-7.
 * @returns The encoding, segment count and size.
 * @example
 * ```ts
 * countSmsSegments('Hello'); // { encoding: 'GSM-7', segments: 1, units: 5 }
 * countSmsSegments('é'.repeat(161)); // { encoding: 'GSM-7', segments: 2, units: 161 }
 * countSmsSegments('Hi 👋'); // { encoding: 'UCS-2', segments: 1, units: 5 }
 * ```
 */
export function countSmsSegments(body: string, options: SmsSegmentOptions = {}): SmsSegments {
  const characters = [...body];
  const gsm = characters.every(
    (character) =>
      (GSM_BASIC.has(character) || GSM_EXTENSION.has(character)) &&
      !(options.asciiOnly && (character.codePointAt(0) ?? 0) > 127),
  );
  const items: Item[] = gsm
    ? characters.map((character) => [GSM_EXTENSION.has(character) ? 2 : 1, false, false])
    : ucs2Items(body);
  const units = items.reduce((sum, [size]) => sum + size, 0);
  const single = gsm ? GSM_SINGLE : UCS2_SINGLE;
  const part = gsm ? GSM_PART : UCS2_PART;
  if (units <= single) return { encoding: gsm ? 'GSM-7' : 'UCS-2', segments: 1, units };
  let segments = 1;
  let used = 0;
  for (const [size, fresh, closes] of items) {
    if (used + size > part || (fresh && used > 0)) {
      segments++;
      used = 0;
    }
    used = closes ? part : used + size;
  }
  return { encoding: gsm ? 'GSM-7' : 'UCS-2', segments, units };
}
