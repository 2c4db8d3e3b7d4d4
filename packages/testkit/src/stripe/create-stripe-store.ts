import { randomAlphanumeric } from '../http/random-id.js';
import { stripeError } from './stripe-error.js';
import type { StripeObject } from './stripe-fixture.js';

/**
 * Where the fake Stripe keeps the objects it created, in creation order.
 *
 * @example
 * ```ts
 * const store = createStripeStore();
 * store.insert({ id: 'cus_1', object: 'customer' });
 * ```
 */
export interface StripeStore {
  /**
   * Stores a new object.
   *
   * @param object - The object; its `object` field is its type.
   * @returns The same (stored, mutable) object.
   */
  insert<T extends StripeObject>(object: T): T;
  /**
   * The stored object of a type, or `undefined`.
   *
   * @param type - Object type.
   * @param id - Object id.
   */
  get(type: string, id: string): StripeObject | undefined;
  /**
   * The stored object of a type.
   *
   * @param type - Object type.
   * @param id - Object id.
   * @param param - Parameter to blame; when given the error is a 400 about that parameter, else a 404.
   * @throws Stripe's `resource_missing` error when there is no such object.
   */
  require(type: string, id: string, param?: string): StripeObject;
  /**
   * Stored objects of a type, oldest first.
   *
   * @param type - Object type.
   */
  list(type: string): StripeObject[];
  /** Every stored object, oldest first. */
  all(): StripeObject[];
  /** Forgets everything. */
  clear(): void;
}

/**
 * Creates an empty in-memory Stripe object store.
 *
 * @returns The store.
 * @example
 * ```ts
 * const store = createStripeStore();
 * store.list('charge'); // []
 * ```
 */
export function createStripeStore(): StripeStore {
  const objects = new Map<string, StripeObject>();
  const key = (type: string, id: string) => `${type}\u0000${id}`;
  return {
    insert(object) {
      objects.set(key(object.object, object.id), object);
      return object;
    },
    get(type, id) {
      return objects.get(key(type, id));
    },
    require(type, id, param) {
      const found = objects.get(key(type, id));
      if (found) return found;
      throw stripeError(param ? 400 : 404, {
        type: 'invalid_request_error',
        code: 'resource_missing',
        message: `No such ${type}: '${id}'`,
        param: param ?? (type === 'payment_intent' ? 'intent' : 'id'),
      });
    },
    list(type) {
      return [...objects.values()].filter((object) => object.object === type);
    },
    all() {
      return [...objects.values()];
    },
    clear() {
      objects.clear();
    },
  };
}

/**
 * A new Stripe-style id: the prefix, `_`, and random alphanumerics.
 *
 * @param prefix - Id prefix, e.g. `pi`, `ch`, `cs_test`.
 * @param length - Number of random characters.
 * @returns The id.
 * @example
 * ```ts
 * stripeId('pi'); // 'pi_3Pq...'
 * ```
 */
export function stripeId(prefix: string, length = 24): string {
  return `${prefix}_${randomAlphanumeric(length)}`;
}

/**
 * A numeric field of a stored object, `0` when it is not a number.
 *
 * @param object - The object.
 * @param field - Field name.
 * @returns The number.
 * @example
 * ```ts
 * numberField(intent, 'amount_capturable');
 * ```
 */
export function numberField(object: Record<string, unknown>, field: string): number {
  const value = object[field];
  return typeof value === 'number' ? value : 0;
}
