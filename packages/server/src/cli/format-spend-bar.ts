import { formatUsd } from '@keybrake/core';

/**
 * A bar of spend against a cap, `█` spent and `░` left, rounded down so that a full bar means the
 * cap is reached.
 *
 * @param spentUsd - Spent (and reserved) USD.
 * @param capUsd - The cap, USD.
 * @param width - Characters. @default 20
 * @returns The bar.
 * @example
 * ```ts
 * formatSpendBar(148, 150); // '███████████████████░'
 * ```
 */
export function formatSpendBar(spentUsd: number, capUsd: number, width = 20): string {
  const filled = capUsd <= 0 ? width : Math.max(0, Math.min(width, Math.floor((spentUsd / capUsd) * width)));
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

/**
 * Formats a USD number from the wire exactly as core formats micro-dollars: `$148.00`, `$0.0083`.
 *
 * @example
 * ```ts
 * formatUsdAmount(0.0083); // '$0.0083'
 * ```
 */
export function formatUsdAmount(usd: number): string {
  return formatUsd(Math.round(usd * 1_000_000));
}

/**
 * Aligns rows of cells into columns separated by two spaces; cells of the columns listed in
 * `right` are right-aligned.
 *
 * @example
 * ```ts
 * formatColumns([['billing', '$148.00'], ['notifications', '$32.00']], { right: [1] });
 * ```
 */
export function formatColumns(rows: readonly string[][], options: { right?: readonly number[] } = {}): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [index, cell] of row.entries()) widths[index] = Math.max(widths[index] ?? 0, cell.length);
  }
  return rows.map((row) =>
    row
      .map((cell, index) => {
        if (index === row.length - 1 && !options.right?.includes(index)) return cell;
        const width = widths[index] ?? 0;
        return options.right?.includes(index) ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd(),
  );
}

/** C0 and C1 control characters, DEL included. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * A copy of a server answer safe to print to a terminal: every control character in its strings
 * (escape sequences, newlines, C1 codes) becomes `\uFFFD`, so a hostile label can neither drive
 * the terminal nor forge a line of the report.
 *
 * @example
 * ```ts
 * printable({ label: 'ok\u001b]0;owned\u0007' }); // { label: 'ok\uFFFD]0;owned\uFFFD' }
 * ```
 */
export function printable<T>(value: T): T {
  if (typeof value === 'string') return value.replace(CONTROL_CHARACTERS, '\uFFFD') as T;
  if (Array.isArray(value)) return value.map(printable) as T;
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [name, entry] of Object.entries(value)) copy[name] = printable(entry);
    return copy as T;
  }
  return value;
}
