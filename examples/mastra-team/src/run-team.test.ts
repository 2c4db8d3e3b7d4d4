import { describe, expect, it } from 'vitest';
import { runBillingTeam } from './run-team.js';

describe('runBillingTeam', () => {
  describe('when the confused billing member charges all 40 customers instead of the 4 overdue ones', () => {
    it('should stop it at its $150 cap, show the supervisor the cap error and let the team finish', async () => {
      const lines: string[] = [];

      const outcome = await runBillingTeam({ log: (line) => lines.push(line) });

      expect(outcome.fakes).toEqual({ charges: 30, chargedCents: 15_000, texts: 4 });
      expect(outcome.members).toEqual([
        { member: 'billing', calls: 40, allowed: 30, denied: 10, spentMicros: 150_000_000, capUsd: 150 },
        { member: 'notifications', calls: 8, allowed: 8, denied: 0, spentMicros: 33_200, capUsd: 50 },
      ]);
      expect(outcome.session).toEqual({ calls: 48, allowed: 38, denied: 10, spentMicros: 150_033_200, capUsd: 200 });

      expect(outcome.supervisorRead).toContain(
        'Keybrake stopped member "billing" (tool "chargeCustomer", 10 calls denied).\nKEYBRAKE_CAP_EXCEEDED: Keybrake denied this call',
      );
      expect(JSON.parse(outcome.supervisorRead.split('\n').at(-1) ?? '')).toMatchObject({
        code: 'KEYBRAKE_CAP_EXCEEDED',
        label: 'billing-team/demo/billing',
        capUsd: 150,
        spentUsd: 150,
        attemptedUsd: 5,
      });
      expect(outcome.answer).toMatch(
        /^Billing was stopped by Keybrake \(KEYBRAKE_CAP_EXCEEDED, billing-team\/demo\/billing/,
      );
      expect(outcome.answer).toContain('26 other customers were charged by mistake');

      expect(lines).toContainEqual(expect.stringMatching(/^ {2}✋ Keybrake stopped billing: KEYBRAKE_CAP_EXCEEDED: /));
      expect(lines).toContainEqual(
        expect.stringMatching(/^supervisor +← agent-billing read KEYBRAKE_CAP_EXCEEDED · billing-team\/demo\/billing/),
      );
      expect(outcome.transcript).not.toContain('kb_test_');
      expect(outcome.transcript).not.toContain('sk_test_');
    });
  });
});
