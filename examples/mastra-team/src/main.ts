// `pnpm start`: runs the billing team offline (scripted models, fake Stripe and Twilio), or for real
// with the credentials in `.env` (see `.env.example` and the README).
import { existsSync } from 'node:fs';
import { type RealVendors, runBillingTeam } from './run-team.js';

if (existsSync('.env')) process.loadEnvFile('.env');
const env = (name: string) => process.env[name]?.trim() || undefined;

function realVendors(): RealVendors | undefined {
  const stripeSecretKey = env('STRIPE_SECRET_KEY');
  const accountSid = env('TWILIO_ACCOUNT_SID');
  const authToken = env('TWILIO_AUTH_TOKEN');
  if (!stripeSecretKey && !accountSid && !authToken) return undefined;
  if (!stripeSecretKey || !accountSid || !authToken)
    throw new Error('Set all of STRIPE_SECRET_KEY, TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, or none of them.');
  if (!stripeSecretKey.startsWith('sk_test_'))
    throw new Error('STRIPE_SECRET_KEY must be a test-mode key (sk_test_…): the demo charges customers.');
  return { stripeSecretKey, twilio: { accountSid, authToken, from: env('TWILIO_FROM_NUMBER') ?? '+15005550006' } };
}

const model = env('KEYBRAKE_DEMO_MODEL');
const vendors = realVendors();
console.log(
  `Billing team with spending brakes (Mastra) — models: ${model ?? 'scripted, offline'}; vendors: ${vendors ? 'Stripe test mode and Twilio' : 'fake Stripe and Twilio on loopback'}\n`,
);
await runBillingTeam({ log: (line) => console.log(line), model, vendors });
