import { runBillingTeam } from './run-team.js';

try {
  process.loadEnvFile(); // .env in the working directory, if there is one
} catch {
  // No .env: everything runs offline.
}
await runBillingTeam();
