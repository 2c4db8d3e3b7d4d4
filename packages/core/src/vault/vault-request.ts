import type { AuditActor } from '../audit/audit-record.js';
import type { KeybrakeError } from '../errors/keybrake-error.js';
import type { MicroUsd } from '../money/micro-usd.js';

/** One vendor call presented to the vault. */
export interface VaultRequest {
  /**
   * The vault key. When omitted it is read from `Authorization: Bearer <key>` or the password of
   * `Authorization: Basic` (Twilio's SDK), and that header is never forwarded.
   */
  vaultKey?: string | undefined;
  /** The vendor the route names (`/stripe/...`); when set it must be the key's vendor. */
  vendor?: string | undefined;
  method: string;
  /** Path and query as sent by the client: `/v1/payment_intents?expand[]=customer`. The host is never taken from the client. */
  path: string;
  /**
   * The request headers. A plain object's names and values are checked as fetch's `Headers` checks
   * them (a value that is not a string is read as its string): a call with a header fetch would
   * refuse is denied with 400 (`KEYBRAKE_INVALID_REQUEST`), and nothing is sent.
   */
  headers: Headers | Record<string, string | string[] | undefined>;
  body?: Uint8Array | string | undefined;
  /**
   * Set when the caller stopped reading the request body because it is over the caller's own
   * limit (the proxy does, rather than buffer it): the call is denied with 413
   * (`KEYBRAKE_INVALID_REQUEST`) and audited under its key like any other denial, and `body` is
   * ignored. Nothing is sent.
   */
  bodyOverLimit?:
    | {
        limitBytes: number;
        /** The body's size, if known (its `Content-Length`), for the denial's message. */
        declaredBytes?: number | undefined;
      }
    | undefined;
  /** Who is calling, for the audit record (set by the adapters). */
  actor?: AuditActor | undefined;
  /** Aborts the upstream call. */
  signal?: AbortSignal | undefined;
}

/** Response headers by lower-case name; a repeated header (`set-cookie`) is an array. */
export type ResponseHeaderRecord = Record<string, string | string[]>;

/** The answer to a {@link VaultRequest}: the vendor's response, or a denial in the vendor's error shape. */
export interface VaultResponse {
  status: number;
  /** The response headers as WHATWG `Headers` (built on first read). */
  headers: Headers;
  /**
   * The same headers as a plain record: lower-case names, `set-cookie` as an array when repeated.
   * What a server writes back without building `Headers`.
   */
  headerRecord: Readonly<ResponseHeaderRecord>;
  body: Uint8Array;
  /** What Keybrake decided, for callers that want it without parsing the body. */
  keybrake: {
    auditId: string;
    keyId?: string | undefined;
    /** The vendor of the presented key (or of the route), when known: for logs and metrics. */
    vendor?: string | undefined;
    decision: 'allowed' | 'denied';
    /** The denial, for denied calls (and for allowed calls whose upstream failed). */
    error?: KeybrakeError | undefined;
    estimatedMicros: MicroUsd;
    /**
     * The cost read from the vendor's answer. The ledger settles it just after the answer is
     * returned; if that fails, the estimate stays counted and the audit record says so.
     */
    actualMicros: MicroUsd;
  };
}
