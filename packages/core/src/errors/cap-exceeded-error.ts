import { KeybrakeError } from './keybrake-error.js';

/** Which limit of a key's policy stopped a call. */
export type CapKind = 'total' | 'daily' | 'per_call' | 'calls';

/** Fields of a {@link CapExceededError}. Amounts are USD numbers for readability. */
export interface CapExceededErrorOptions {
  /** The key that made the call. */
  keyId: string;
  /** Label of the key that made the call. */
  label?: string | undefined;
  /** The key whose cap was hit: the caller's own key or one of its ancestors. */
  limitingKeyId: string;
  /** Label of the key whose cap was hit. */
  limitingLabel?: string | undefined;
  /** Which cap was hit. */
  cap: CapKind;
  /** The cap in USD (or the call count, for `calls`). */
  capUsd: number;
  /** Spent so far against that cap, USD (calls for `calls`). */
  spentUsd: number;
  /** Reserved by calls in flight against that cap, USD. */
  reservedUsd: number;
  /** What this call would have cost, USD (1 call for `calls`). */
  attemptedUsd: number;
}

const capNames: Record<CapKind, string> = {
  total: 'spending cap',
  daily: 'daily spending cap (resets 00:00 UTC)',
  per_call: 'per-call maximum',
  calls: 'call limit',
};

const usd = (n: number) => `$${n.toFixed(n < 1 && n !== 0 ? 6 : 2).replace(/(\.\d\d\d*?)0+$/, '$1')}`;

/**
 * A call would exceed a cap of the calling key or of one of its ancestors. The call never
 * reached the vendor. Answered over HTTP with 429 and `Stripe-Should-Retry: false`.
 */
export class CapExceededError extends KeybrakeError {
  readonly code = 'KEYBRAKE_CAP_EXCEEDED' as const;
  readonly status = 429;
  override readonly name = 'CapExceededError';
  readonly keyId: string;
  readonly label: string | undefined;
  readonly limitingKeyId: string;
  readonly limitingLabel: string | undefined;
  readonly cap: CapKind;
  readonly capUsd: number;
  readonly spentUsd: number;
  readonly reservedUsd: number;
  readonly attemptedUsd: number;

  constructor(options: CapExceededErrorOptions) {
    const owner = options.limitingLabel ?? options.limitingKeyId;
    // A team member's own budget sits on a key above the one it holds, under the same label.
    const own =
      options.limitingKeyId === options.keyId ||
      (options.limitingLabel !== undefined && options.limitingLabel === options.label);
    const whose = own
      ? `this key's ${capNames[options.cap]}`
      : `the ${capNames[options.cap]} of "${owner}" (a parent budget of this key)`;
    const message =
      options.cap === 'calls'
        ? `Keybrake denied this call: it would exceed ${whose} of ${options.capUsd} calls (${options.spentUsd} made). The call was not sent. Retrying will not help; report to your supervisor or stop.`
        : `Keybrake denied this call: it would exceed ${whose}. Budget ${usd(options.capUsd)}, spent ${usd(options.spentUsd)}, in flight ${usd(options.reservedUsd)}, this call ${usd(options.attemptedUsd)}. The call was not sent. Retrying will not help; report to your supervisor or stop.`;
    super({ message });
    this.keyId = options.keyId;
    this.label = options.label;
    this.limitingKeyId = options.limitingKeyId;
    this.limitingLabel = options.limitingLabel;
    this.cap = options.cap;
    this.capUsd = options.capUsd;
    this.spentUsd = options.spentUsd;
    this.reservedUsd = options.reservedUsd;
    this.attemptedUsd = options.attemptedUsd;
  }

  protected override details(): Record<string, unknown> {
    return {
      keyId: this.keyId,
      label: this.label,
      limitingKeyId: this.limitingKeyId,
      limitingLabel: this.limitingLabel,
      cap: this.cap,
      capUsd: this.capUsd,
      spentUsd: this.spentUsd,
      reservedUsd: this.reservedUsd,
      attemptedUsd: this.attemptedUsd,
    };
  }
}
