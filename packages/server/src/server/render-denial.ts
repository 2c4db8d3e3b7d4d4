import {
  type KeybrakeError,
  resendErrorResponse,
  stripeErrorResponse,
  twilioErrorResponse,
  type VendorErrorResponse,
} from '@keybrake/core';

const builtin: Record<string, (error: KeybrakeError) => VendorErrorResponse> = {
  stripe: stripeErrorResponse,
  twilio: twilioErrorResponse,
  resend: resendErrorResponse,
};

/**
 * Renders a denial the proxy makes itself (a body over the limit, refused before the vault sees
 * it) in the vendor's error shape, with core's renderers; other vendors get core's generic shape.
 *
 * @param vendor - The vendor of the route or of the key, if known.
 * @param error - The denial.
 * @returns Status, headers (with `x-keybrake-code`) and body.
 * @example
 * ```ts
 * renderDenial('stripe', new InvalidRequestError({ status: 413, message })).status; // 413
 * ```
 */
export function renderDenial(vendor: string | undefined, error: KeybrakeError): VendorErrorResponse {
  const render = vendor === undefined ? undefined : builtin[vendor];
  const shaped = render
    ? render(error)
    : {
        status: error.status,
        headers: { 'content-type': 'application/json', 'stripe-should-retry': 'false', 'x-should-retry': 'false' },
        body: JSON.stringify({ error: { type: 'keybrake_error', ...error.toJSON() } }),
      };
  return { ...shaped, headers: { ...shaped.headers, 'x-keybrake-code': error.code } };
}
