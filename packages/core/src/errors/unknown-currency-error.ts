import { KeybrakeError } from './keybrake-error.js';

/** A charge is in a currency with no configured FX rate, so its USD cost is unknown. Answered with 403. */
export class UnknownCurrencyError extends KeybrakeError {
  readonly code = 'KEYBRAKE_UNKNOWN_CURRENCY' as const;
  readonly status = 403;
  override readonly name = 'UnknownCurrencyError';
  readonly currency: string;
  constructor(options: { currency: string; cause?: unknown }) {
    super({
      message: `Keybrake denied this call: no FX rate is configured for currency "${options.currency.toUpperCase()}", so its USD cost cannot be capped. Retrying will not help; use a configured currency or ask an operator to add a rate.`,
      cause: options.cause,
    });
    this.currency = options.currency;
  }
  protected override details(): Record<string, unknown> {
    return { currency: this.currency };
  }
}
