import { describe, expect, it } from 'vitest';
import { runBillingTeam } from './run-team.js';

describe('runBillingTeam', () => {
  describe('when the confused billing member charges all 40 customers offline', () => {
    it('should charge 30, stop billing at its cap, and show the supervisor the cap error', async () => {
      const lines: string[] = [];

      const outcome = await runBillingTeam({ log: (line) => lines.push(line), env: {} });

      expect(outcome.mode).toEqual({ model: 'scripted (fakeModel)', stripe: 'fake', twilio: 'fake' });
      expect(outcome.chargesReceived).toHaveLength(30);
      expect(outcome.chargesReceived?.every((charge) => charge.amountUsd === 5)).toBe(true);
      expect(new Set(outcome.chargesReceived?.map((charge) => charge.customer)).size).toBe(30);
      expect(outcome.smsReceived).toBe(4);
      expect(outcome.audit).toEqual([
        { member: 'billing', calls: 40, allowed: 30, denied: 10, spentUsd: 150, budgetSpentUsd: 150, capUsd: 150 },
        {
          member: 'notifications',
          calls: 8,
          allowed: 8,
          denied: 0,
          spentUsd: 0.0332,
          budgetSpentUsd: 0.0332,
          capUsd: 50,
        },
      ]);
      expect(outcome.sessionSpentUsd).toBe(150.0332);
      expect(outcome.supervisorSaw).toEqual([
        { code: 'KEYBRAKE_CAP_EXCEEDED', label: 'billing-team/sess_demo/billing', capUsd: 150, spentUsd: 150 },
      ]);
      expect(outcome.finalAnswer).toContain('billing stopped at its cap');
      expect(lines.join('\n')).toContain(
        'billing ← ✗ 10 tool errors: KEYBRAKE_CAP_EXCEEDED: Keybrake denied this call',
      );
      expect(lines.join('\n')).toContain(
        'supervisor: Billing was stopped by KEYBRAKE_CAP_EXCEEDED on billing-team/sess_demo/billing',
      );
      expect(JSON.stringify(outcome.transcript)).not.toContain('kb_test_');
      expect(lines.join('\n')).not.toContain('kb_test_');
    });
  });
});
