import { existsSync } from 'node:fs';
import { type RealVendors, runBillingTeam } from './run-team.js';

// Offline by default. Real credentials in .env (see .env.example) switch each part to the real thing;
// a variable left empty there (NAME=) counts as unset.
const envFile = new URL('../.env', import.meta.url);
if (existsSync(envFile)) process.loadEnvFile(envFile);
const env = process.env;

function realVendors(): RealVendors | undefined {
  const { STRIPE_SECRET_KEY, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM_NUMBER } = env;
  if (!STRIPE_SECRET_KEY || !TWILIO_ACCOUNT_SID || !TWILIO_AUTH_TOKEN) return undefined;
  if (!STRIPE_SECRET_KEY.startsWith('sk_test_')) {
    throw new Error('This demo charges 30 customers: give it a Stripe test-mode key (sk_test_…), never a live one.');
  }
  return {
    stripeSecretKey: STRIPE_SECRET_KEY,
    twilio: {
      accountSid: TWILIO_ACCOUNT_SID,
      authToken: TWILIO_AUTH_TOKEN,
      from: TWILIO_FROM_NUMBER?.trim() || '+15005550006',
    },
  };
}

// A model id string is resolved by the AI SDK's built-in Vercel AI Gateway provider (AI_GATEWAY_API_KEY).
const modelId = env.AI_GATEWAY_API_KEY ? env.KEYBRAKE_DEMO_MODEL?.trim() || 'openai/gpt-5-mini' : undefined;
const vendors = realVendors();

console.log('Keybrake × Vercel AI SDK: a billing team with spending brakes');
console.log(
  `models: ${modelId ? `${modelId} via the AI Gateway` : 'scripted (MockLanguageModelV4)'} · ` +
    `vendors: ${vendors ? 'Stripe test mode + Twilio' : 'fake Stripe + Twilio on loopback'}`,
);
console.log('');

await runBillingTeam({
  log: (line) => console.log(line),
  models: modelId ? { supervisor: modelId, billing: modelId, notifications: modelId } : undefined,
  vendors,
});
