const gsmBasic = new Set(
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà',
);
const gsmExtension = new Set('\f^{}\\[~]|€');

/**
 * How an SMS body is encoded and into how many segments it is split (and billed).
 *
 * @example
 * ```ts
 * const { encoding, segments }: SmsSegments = countSmsSegments('Hello');
 * ```
 */
export interface SmsSegments {
  /** `GSM-7` when every character is in the GSM 03.38 alphabet (or its extension table), else `UCS-2`. */
  encoding: 'GSM-7' | 'UCS-2';
  /** Segments billed: at least 1. */
  segments: number;
  /** Size in encoding units: septets for GSM-7 (extension characters count 2), UTF-16 code units for UCS-2. */
  units: number;
}

/** A unit of filling: its cost, and for a character longer than a segment, where it starts and ends. */
interface Cost {
  units: number;
  startsSegment?: boolean;
  endsSegment?: boolean;
}

function split(costs: Cost[], single: number, multi: number): number {
  const total = costs.reduce((sum, cost) => sum + cost.units, 0);
  if (total <= single) return 1;
  let segments = 1;
  let used = 0;
  for (const cost of costs) {
    if (used + cost.units > multi || (cost.startsSegment && used > 0)) {
      segments += 1;
      used = 0;
    }
    used = cost.endsSegment ? multi : used + cost.units;
  }
  return segments;
}

const graphemeSegmenter = new Intl.Segmenter('en', { granularity: 'grapheme' });

/**
 * UCS-2 costs as Twilio's calculator fills segments: whole characters, joined at least as much as
 * its older grapheme rules join them (a mark, a ZWJ and the pictograph after it, U+1CF2/3, after
 * U+11A3A); CRLF as two; a character longer than a segment in segments of its own, by code point.
 */
function ucs2Costs(body: string): Cost[] {
  const characters: string[] = [];
  for (const { segment } of graphemeSegmenter.segment(body)) {
    const last = characters[characters.length - 1];
    const joins =
      last !== undefined &&
      !last.endsWith('\r') &&
      !last.endsWith('\n') &&
      (/^(?:\p{M}|\u200d|\u1cf2|\u1cf3)/u.test(segment) ||
        (last.endsWith('\u200d') && /^\p{Extended_Pictographic}/u.test(segment)) ||
        last.endsWith('\u{11a3a}'));
    if (joins) characters[characters.length - 1] = last + segment;
    else characters.push(segment);
  }
  const costs: Cost[] = [];
  for (const character of characters) {
    if (character === '\r\n') costs.push({ units: 1 }, { units: 1 });
    else if (character.length <= 67) costs.push({ units: character.length });
    else {
      const points = [...character];
      for (const [index, point] of points.entries())
        costs.push({ units: point.length, startsSegment: index === 0, endsSegment: index === points.length - 1 });
    }
  }
  return costs;
}

/**
 * Counts SMS segments the way carriers (and Twilio's billing) do: GSM-7 fits 160 septets in one segment or 153 per
 * segment of a multipart message, with extension characters (`^{}[]~|€\` and form feed) taking two septets and never
 * split across segments; any other character switches the whole body to UCS-2, 70 code units single or 67 per part,
 * filled by whole characters (never splitting a surrogate pair, an emoji with its joiners or a letter with its accents).
 *
 * @param body - The message body.
 * @returns The encoding, segment count and size in units.
 * @example
 * ```ts
 * countSmsSegments('a'.repeat(160)).segments; // 1
 * countSmsSegments('a'.repeat(161)).segments; // 2
 * countSmsSegments(`${'a'.repeat(69)}🙂`).segments; // 2 (UCS-2, 71 code units)
 * ```
 */
export function countSmsSegments(body: string): SmsSegments {
  const characters = [...body];
  const gsm = characters.every((character) => gsmBasic.has(character) || gsmExtension.has(character));
  if (gsm) {
    const costs = characters.map((character) => ({ units: gsmExtension.has(character) ? 2 : 1 }));
    const units = costs.reduce((sum, cost) => sum + cost.units, 0);
    return { encoding: 'GSM-7', segments: split(costs, 160, 153), units };
  }
  const costs = ucs2Costs(body);
  const units = costs.reduce((sum, cost) => sum + cost.units, 0);
  return { encoding: 'UCS-2', segments: split(costs, 70, 67), units };
}
