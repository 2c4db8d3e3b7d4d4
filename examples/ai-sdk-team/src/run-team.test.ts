import { describe, expect, it } from 'vitest';
import { runBillingTeam } from './run-team.js';

describe('runBillingTeam', () => {
  describe('when the confused billing member charges all 40 customers offline', () => {
    it('should stop it at its $150 cap, tell the supervisor, and text only the 4 overdue customers', async () => {
      const lines: string[] = [];
      const outcome = await runBillingTeam({ log: (line) => lines.push(line) });

      expect(outcome.upstream).toEqual({ chargesCents: Array.from({ length: 30 }, () => 500), textsSent: 4 });
      expect(outcome.members).toEqual([
        { member: 'billing', calls: 40, allowed: 30, denied: 10, spentUsd: 150, capUsd: 150 },
        { member: 'notifications', calls: 8, allowed: 8, denied: 0, spentUsd: 0.0332, capUsd: 50 },
      ]);
      expect(outcome.session).toEqual({ spentUsd: 150.0332, capUsd: 200 });

      const [billing, notifications] = outcome.delegations;
      expect(billing).toMatchObject({ toolName: 'delegate_billing', type: 'error-text' });
      expect(billing?.value).toMatch(/^KEYBRAKE_CAP_EXCEEDED: Keybrake denied this call: .*Retrying will not help/);
      expect(JSON.parse(billing?.value.split('\n')[1] ?? '')).toMatchObject({
        code: 'KEYBRAKE_CAP_EXCEEDED',
        label: 'billing-team/demo/billing',
        capUsd: 150,
        spentUsd: 150,
        attemptedUsd: 5,
      });
      expect(notifications).toEqual({
        toolName: 'delegate_notifications',
        type: 'text',
        value: 'Texted 4 receipts after checking each payment succeeded.',
      });
      expect(outcome.supervisorText).toContain('KEYBRAKE_CAP_EXCEEDED on billing-team/demo/billing');

      expect(lines).toContain(
        'supervisor     ← delegate_billing tool-error KEYBRAKE_CAP_EXCEEDED · billing-team/demo/billing · cap $150.00 · spent $150.00',
      );
      expect(lines.some((line) => line.includes('✋ Keybrake stopped billing: KEYBRAKE_CAP_EXCEEDED'))).toBe(true);
      expect(outcome.transcript).toContain('KEYBRAKE_CAP_EXCEEDED');
      expect(outcome.transcript).not.toContain('kb_test_');
    });
  });
});
