/**
 * One route: a method, a path pattern with `:name` parameters (which may be followed by a literal suffix inside
 * the segment, as in `/Messages/:sid.json`) and its handler.
 *
 * @example
 * ```ts
 * const route: Route<string> = { method: 'GET', pattern: '/v1/customers/:id', handler: 'getCustomer' };
 * ```
 */
export interface Route<Handler> {
  /** HTTP method in upper case. */
  method: string;
  /** Path pattern, e.g. `/v1/payment_intents/:id/capture`. */
  pattern: string;
  /** What to run when the route matches. */
  handler: Handler;
}

/**
 * A matched route with its decoded path parameters.
 *
 * @example
 * ```ts
 * const match = router.match('GET', '/v1/customers/cus_1');
 * match?.params.id; // 'cus_1'
 * ```
 */
export interface RouteMatch<Handler> {
  /** The matched route's handler. */
  handler: Handler;
  /** Path parameters by name. */
  params: Record<string, string>;
}

/**
 * A tiny method + path router.
 *
 * @example
 * ```ts
 * const router: Router<() => void> = createRouter([]);
 * ```
 */
export interface Router<Handler> {
  /**
   * Finds the first route matching a request.
   *
   * @param method - HTTP method.
   * @param pathname - Request path without the query string.
   * @returns The match, or `undefined` when no route matches.
   */
  match(method: string, pathname: string): RouteMatch<Handler> | undefined;
}

interface CompiledRoute<Handler> {
  method: string;
  regex: RegExp;
  names: string[];
  handler: Handler;
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function compile<Handler>(route: Route<Handler>): CompiledRoute<Handler> {
  const names: string[] = [];
  const source = route.pattern
    .split(/(:[A-Za-z_]\w*)/)
    .map((part) => {
      if (part.startsWith(':')) {
        names.push(part.slice(1));
        return '([^/]+?)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  return { method: route.method.toUpperCase(), regex: new RegExp(`^${source}$`), names, handler: route.handler };
}

/**
 * Builds a router from a list of routes; the first matching route wins.
 *
 * @param routes - Routes to match, in order.
 * @returns The router.
 * @example
 * ```ts
 * const router = createRouter([{ method: 'GET', pattern: '/emails/:id', handler: getEmail }]);
 * const match = router.match('GET', '/emails/123');
 * ```
 */
export function createRouter<Handler>(routes: readonly Route<Handler>[]): Router<Handler> {
  const compiled = routes.map(compile);
  return {
    match(method, pathname) {
      const upper = method.toUpperCase();
      for (const route of compiled) {
        if (route.method !== upper) continue;
        const found = route.regex.exec(pathname);
        if (!found) continue;
        const params: Record<string, string> = {};
        route.names.forEach((name, index) => {
          params[name] = safeDecode(found[index + 1] ?? '');
        });
        return { handler: route.handler, params };
      }
      return undefined;
    },
  };
}
