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

function split(costs: number[], single: number, multi: number): number {
  const units = costs.reduce((sum, cost) => sum + cost, 0);
  if (units <= single) return 1;
  let segments = 1;
  let used = 0;
  for (const cost of costs) {
    if (used + cost > multi) {
      segments += 1;
      used = 0;
    }
    used += cost;
  }
  return segments;
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
    const costs = characters.map((character) => (gsmExtension.has(character) ? 2 : 1));
    const units = costs.reduce((sum, cost) => sum + cost, 0);
    return { encoding: 'GSM-7', segments: split(costs, 160, 153), units };
  }
  // Filled by whole characters, as Twilio's segment calculator does: an emoji with its joiners or a
  // letter with its accents stays in one segment; a CRLF is two characters.
  const costs = [...new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(body)].flatMap(({ segment }) =>
    segment === '\r\n' ? [1, 1] : [segment.length],
  );
  const units = costs.reduce((sum, cost) => sum + cost, 0);
  return { encoding: 'UCS-2', segments: split(costs, 70, 67), units };
}
