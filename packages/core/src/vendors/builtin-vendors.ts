import type { ResendCostOptions } from '../costs/resend/resend-cost-model.js';
import type { StripeCostOptions } from '../costs/stripe/stripe-cost-model.js';
import type { TwilioCostOptions } from '../costs/twilio/twilio-cost-model.js';
import { resendVendor } from './resend-vendor.js';
import { stripeVendor } from './stripe-vendor.js';
import { twilioVendor } from './twilio-vendor.js';
import type { VendorDefinition } from './vendor-definition.js';

/** Cost-model options of each built-in vendor. */
export interface BuiltinVendorOptions {
  /** Options of the Stripe cost model. @default {} */
  stripe?: StripeCostOptions | undefined;
  /** Options of the Twilio cost model. @default {} */
  twilio?: TwilioCostOptions | undefined;
  /** Options of the Resend cost model. @default {} */
  resend?: ResendCostOptions | undefined;
}

/**
 * The built-in vendor definitions, by name: `stripe`, `twilio`, `resend`.
 *
 * @param options - Cost-model options per vendor.
 * @returns A record of vendor definitions to pass to the vault.
 * @throws {InvalidPolicyError} if an option is malformed.
 * @example
 * ```ts
 * const vendors = builtinVendors({ twilio: { smsSegmentUsd: '0.0079' } });
 * vendors.twilio.name; // 'twilio'
 * ```
 */
export function builtinVendors(options: BuiltinVendorOptions = {}): Record<string, VendorDefinition> {
  return {
    stripe: stripeVendor(options.stripe),
    twilio: twilioVendor(options.twilio),
    resend: resendVendor(options.resend),
  };
}
