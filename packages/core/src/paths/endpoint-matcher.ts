import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import { normalizePath } from './normalize-path.js';

/** A compiled allow-list entry such as `POST /v1/payment_intents` or `GET /v1/customers/*`. */
export interface EndpointPattern {
  /** Upper-case method, or `*` for any method. */
  method: string;
  /** Path segments; `*` matches one segment, `**` any number (including none). */
  segments: string[];
  /** The pattern as written. */
  source: string;
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', '*']);

/**
 * Parses one allow-list entry: `"<METHOD> <path>"`, where `*` matches one path segment and
 * `**` any depth. The method may be `*`.
 *
 * @throws {InvalidPolicyError} on a malformed entry.
 * @example
 * ```ts
 * parseEndpointPattern('GET /v1/customers/*');
 * ```
 */
export function parseEndpointPattern(source: string): EndpointPattern {
  const match = /^\s*([A-Za-z*]+)\s+(\/\S*)\s*$/.exec(source);
  const method = match?.[1]?.toUpperCase();
  if (!match || !method || !METHODS.has(method)) {
    throw new InvalidPolicyError({
      message: `Invalid allowed endpoint ${JSON.stringify(source)}: expected "<METHOD> /path", e.g. "POST /v1/payment_intents".`,
    });
  }
  const rawPath = match[2] ?? '/';
  // The allow-list matches paths only; an entry with a query would be stored encoded and never match.
  if (/[?#]/.test(rawPath)) {
    throw new InvalidPolicyError({
      message: `Invalid allowed endpoint ${JSON.stringify(source)}: a path only, without a query string or "#".`,
    });
  }
  // A wildcard is a written `*`; an encoded one would decode to a wildcard and widen the entry.
  if (/%2a/i.test(rawPath)) {
    throw new InvalidPolicyError({
      message: `Invalid allowed endpoint ${JSON.stringify(source)}: write a wildcard as "*", not "%2A".`,
    });
  }
  // Normalising keeps `*` as it is, so wildcards survive it in place.
  const normalized = normalizePath(rawPath);
  if (!normalized.ok)
    throw new InvalidPolicyError({
      message: `Invalid allowed endpoint ${JSON.stringify(source)}: ${normalized.reason}.`,
    });
  // `**/**` matches what `**` does: merged, so no pattern repeats the costly part of matching.
  const segments = normalized.path
    .split('/')
    .slice(1)
    .filter((segment, index, all) => segment !== '' && !(segment === '**' && all[index - 1] === '**'));
  for (const segment of segments) {
    if (segment.includes('*') && segment !== '*' && segment !== '**') {
      throw new InvalidPolicyError({
        message: `Invalid allowed endpoint ${JSON.stringify(source)}: "*" must be a whole segment.`,
      });
    }
  }
  return { method, segments, source: `${method} /${segments.join('/')}` };
}

/**
 * Whether a normalised request matches an allow-list pattern.
 *
 * @example
 * ```ts
 * matchesEndpoint(parseEndpointPattern('GET /v1/customers/*'), 'GET', '/v1/customers/cus_1'); // true
 * ```
 */
export function matchesEndpoint(pattern: EndpointPattern, method: string, path: string): boolean {
  if (pattern.method !== '*' && pattern.method !== method.toUpperCase()) return false;
  const segments = path.split('/').slice(1).filter(Boolean);
  // With two `**` or more, each (pattern, path) position is tried once: a path the agent chooses
  // must not make matching exponential (`/**/a/**/b/**` against a thousand segments).
  const failed = countDoubleStars(pattern.segments) > 1 ? new Set<number>() : undefined;
  return matchSegments(pattern.segments, 0, segments, 0, failed);
}

function countDoubleStars(segments: readonly string[]): number {
  let count = 0;
  for (const segment of segments) if (segment === '**') count += 1;
  return count;
}

function matchSegments(
  pattern: string[],
  p: number,
  path: string[],
  s: number,
  failed: Set<number> | undefined,
): boolean {
  for (; p < pattern.length; p++, s++) {
    const segment = pattern[p];
    if (segment === '**') {
      for (let rest = s; rest <= path.length; rest++) {
        const state = (p + 1) * (path.length + 1) + rest;
        if (failed?.has(state)) continue;
        if (matchSegments(pattern, p + 1, path, rest, failed)) return true;
        failed?.add(state);
      }
      return false;
    }
    if (s >= path.length) return false;
    if (segment !== '*' && segment !== path[s]) return false;
  }
  return s === path.length;
}

/**
 * Whether every request a child pattern allows is also allowed by some parent pattern
 * (used to check that a child key's allow-list narrows its parent's).
 */
export function patternIsCoveredBy(child: EndpointPattern, parents: readonly EndpointPattern[]): boolean {
  return parents.some(
    (parent) =>
      (parent.method === '*' || parent.method === child.method) &&
      segmentsCovered(parent.segments, 0, child.segments, 0, new Set<number>()),
  );
}

function segmentsCovered(parent: string[], p: number, child: string[], c: number, failed: Set<number>): boolean {
  if (p === parent.length) return c === child.length;
  const head = parent[p];
  if (head === '**') {
    for (let rest = c; rest <= child.length; rest++) {
      const state = (p + 1) * (child.length + 1) + rest;
      if (failed.has(state)) continue;
      if (segmentsCovered(parent, p + 1, child, rest, failed)) return true;
      failed.add(state);
    }
    return false;
  }
  if (c === child.length) return false;
  const segment = child[c];
  if (segment === '**') return false;
  if (head === '*' || head === segment) return segmentsCovered(parent, p + 1, child, c + 1, failed);
  return false;
}
