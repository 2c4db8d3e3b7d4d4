import type { CostModel } from '../costs/cost-model.js';
import type { KeybrakeError } from '../errors/keybrake-error.js';

/** A denial as the vendor would have answered it, so its official SDK raises its own error. */
export interface VendorErrorResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Everything Keybrake needs to front one vendor's API. Built-in: `stripe`, `twilio`, `resend`.
 * Add your own by passing more definitions to `createVault({ vendors })`.
 */
export interface VendorDefinition<Secret = unknown> {
  /** Vendor name as used in policies and routes: `stripe`. */
  name: string;
  /**
   * The vendor's real API origin: `https://api.stripe.com`. Overridable per vault for tests. The
   * paths the allow-list, the cost model and the audit see are the vendor's own, as its SDK sends
   * them (`/v1/charges`), in both modes; a path here is put before them when forwarding (a gateway
   * in front of the vendor), so it must not repeat what the SDK sends (`https://api.openai.com`,
   * not `https://api.openai.com/v1`).
   */
  baseUrl: string;
  /** The cost model pricing this vendor's calls. */
  costModel: CostModel;
  /**
   * Whether the vendor replays a POST that repeats an `Idempotency-Key` instead of acting on it
   * again: `true` for every POST, or a predicate for the endpoints that do. Only then is a retried
   * call with the same key counted once; otherwise each call is counted, whatever headers it
   * carries (never undercount).
   * @default false
   */
  honorsIdempotencyKey?: boolean | ((method: string, path: string) => boolean);
  /**
   * Request headers (any case) under which the vendor keeps idempotency keys apart, such as
   * Stripe's `stripe-account`: the same key sent for another account is a new call there, so it is
   * counted again here.
   */
  idempotencyScopeHeaders?: readonly string[];
  /**
   * The response header (lower case) by which the vendor marks an answer as its replay of an
   * earlier call's, such as Stripe's `idempotent-replayed`. A replay of a call whose outcome was
   * unknown is priced as if unmarked, so its answer can say what the original call cost.
   */
  replayHeader?: string | undefined;
  /**
   * Endpoints the vault never forwards, whatever a key's allow-list says: those that would hand
   * the agent the real credentials (Twilio's Account resource carries its auth token). Returns
   * why, or `undefined` to go on. Runs on the normalised path.
   */
  refuse?(method: string, path: string): string | undefined;
  /** Response header carrying the vendor's request id, for the audit record. */
  requestIdHeader?: string;
  /**
   * Validates the configured real secret; throws a clear `InvalidPolicyError` (that never
   * contains the secret) if it is malformed.
   */
  parseSecret(secret: unknown): Secret;
  /**
   * Rewrites an outgoing request so that it carries the real credentials: sets headers
   * (`request.headers.authorization = …`; names are lower case) and may rewrite the path (Twilio's
   * `/Accounts/{sid}/`). Runs after the allow-list check, on the normalised path.
   */
  authorize(request: { path: string; headers: Record<string, string> }, secret: Secret): { path: string };
  /** Renders a Keybrake denial in the vendor's own error shape. */
  errorResponse(error: KeybrakeError): VendorErrorResponse;
}
