/** What {@link declaredCharset} answers for a `Content-Type` whose charset cannot be told for sure. */
export const UNREADABLE_CHARSET = 'unreadable';

/** `type/subtype` (RFC 9110 §8.3.1), after optional whitespace. */
const MEDIA_TYPE = /^[\t ]*[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+/;
/**
 * One `; name=value` (a value is a token or a quoted-string, RFC 9110 §5.6.6), or an empty `;`. The
 * two alternatives inside a quoted-string never match the same character: no backtracking.
 */
const PARAMETER =
  /[\t ]*;[\t ]*(?:([\w!#$%&'*+.^`|~-]+)=(?:([\w!#$%&'*+.^`|~-]+)|"((?:[\t !#-[\]-~\x80-\xff]|\\[\t -~\x80-\xff])*)"))?/y;
/** The whitespace a header may end with. */
const END = /[\t ]*$/y;

/**
 * The `charset` parameter of a `Content-Type`, lower-cased and unquoted; `undefined` if it has none.
 * The header is parsed as RFC 9110 writes it, so a `; charset=utf-8` inside another parameter's
 * quoted value is not taken for it. A header that is malformed, or that names a charset twice (one
 * parser reads the first, Rack the last, npm's `content-type` refuses it), gives
 * {@link UNREADABLE_CHARSET}: Keybrake cannot know which one the vendor reads.
 *
 * @param contentType - The request's `Content-Type`, if it has one.
 * @returns The charset, `undefined` for none, or {@link UNREADABLE_CHARSET}.
 * @example
 * ```ts
 * declaredCharset('application/x-www-form-urlencoded; charset="UTF-8"'); // 'utf-8'
 * declaredCharset('text/plain; x="; charset=utf-8"; charset=latin1'); // 'latin1'
 * declaredCharset('text/plain; charset=utf-8; charset=latin1'); // 'unreadable'
 * ```
 */
export function declaredCharset(contentType: string | undefined): string | undefined {
  // Most headers (`application/json`) have no word a charset could be read from: they are not parsed.
  if (contentType === undefined || !/charset/i.test(contentType)) return undefined;
  const mediaType = MEDIA_TYPE.exec(contentType);
  if (mediaType === null) return UNREADABLE_CHARSET;
  let at = mediaType[0].length;
  let charset: string | undefined;
  for (;;) {
    END.lastIndex = at;
    if (END.test(contentType)) return charset;
    PARAMETER.lastIndex = at;
    const parameter = PARAMETER.exec(contentType);
    if (parameter === null) return UNREADABLE_CHARSET;
    at = PARAMETER.lastIndex;
    const [, name, token, quoted] = parameter;
    if (name === undefined || name.toLowerCase() !== 'charset') continue;
    if (charset !== undefined) return UNREADABLE_CHARSET;
    charset = (token ?? (quoted as string).replace(/\\([\s\S])/g, '$1')).toLowerCase();
  }
}
