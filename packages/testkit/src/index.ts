// The conformance suites need vitest: they are exported from `@keybrake/testkit/conformance`.
export type { FakeUpstream, FakeUpstreamOptions, RecordedRequest } from './fake-upstream.js';
export type { FakeResend, FakeResendOptions } from './resend/create-fake-resend.js';
export { createFakeResend } from './resend/create-fake-resend.js';
export type { FakeResendEmail } from './resend/email-routes.js';
export type { FakeStripe, FakeStripeOptions, StripeMoneyMovement } from './stripe/create-fake-stripe.js';
export { createFakeStripe } from './stripe/create-fake-stripe.js';
export { parseStripeForm } from './stripe/parse-stripe-form.js';
export type { SeedInvoiceOptions } from './stripe/seed-invoice.js';
export type { StripeObject, StripeObjectType } from './stripe/stripe-fixture.js';
export type { SmsSegments } from './twilio/count-sms-segments.js';
export { countSmsSegments } from './twilio/count-sms-segments.js';
export type { FakeTwilio, FakeTwilioOptions } from './twilio/create-fake-twilio.js';
export { createFakeTwilio } from './twilio/create-fake-twilio.js';
export type { FakeTwilioCall, FakeTwilioMessage } from './twilio/twilio-route.js';
