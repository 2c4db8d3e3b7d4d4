// A team refresh revokes a member's key while the vault still checks a call on it: the member's
// fetch sends the call again with the new key, and it goes through. The first attempt's
// KEY_REVOKED denial must not stay in the tool run, where it would stop the run (or its supervisor's).
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCappedTool } from '../fetch/run-capped-tool.js';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createVault } from '../vault/create-vault.js';
import { createBearerVendor } from '../vendors/create-bearer-vendor.js';
import { openTeamSession } from './open-team-session.js';

describe('a call sent again after refresh() does not leave its KEY_REVOKED denial in the tool run', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  beforeAll(async () => {
    upstream = await startRecordingUpstream();
  });
  afterAll(() => upstream.close());

  // The price read waits for `open()` the first time (a Stripe estimate reading a PaymentIntent).
  const gatedVault = () => {
    const gate = { pricing: false, open: () => {} };
    let gated = true;
    let release = () => {};
    gate.open = () => {
      gated = false;
      release();
    };
    const vault = createVault({
      vendors: {
        pay: createBearerVendor({
          name: 'pay',
          baseUrl: upstream.url,
          costModel: {
            async estimate() {
              gate.pricing = true;
              if (gated) await new Promise<void>((resolve) => (release = resolve));
              return { kind: 'known', micros: 1_000_000 };
            },
            settle: () => ({ kind: 'known', micros: 1_000_000 }),
          },
        }),
      },
      secrets: { pay: 'sk_pay_secret' },
    });
    return { vault, gate };
  };

  it('should let an unrelated tool error through, since the call went through with the new key', async () => {
    const { vault, gate } = gatedVault();
    const team = await openTeamSession(vault, {
      label: 'team/h1',
      capUsd: 100,
      members: { billing: { vendor: 'pay', capUsd: 50 } },
    });
    const billing = team.member('billing');
    const toolError = new Error('the tool could not parse its own input');
    const run = runCappedTool({ member: 'billing', tool: 'charge', toolCallId: 'call_1' }, async () => {
      const response = await billing.fetch()('http://x/charge', { method: 'POST', body: 'amount=1' });
      expect(response.status).toBe(200); // sent again with the new key, transparently
      throw toolError; // a failure of the tool's own, nothing to do with Keybrake
    });
    await vi.waitFor(() => expect(gate.pricing).toBe(true));
    await billing.refresh();
    gate.open();
    // Not KeyRevokedError: the call went through with the new key, so the model must not read that
    // its key was revoked and retrying will not help.
    const got1 = await run.catch((e: unknown) => e);
    expect((got1 as { code?: string }).code).toBeUndefined();
    expect(got1).toBe(toolError);
    await team.close();
    await vault.close();
  });

  it('should not report the member as stopped to a supervisor when its call succeeded', async () => {
    const { vault, gate } = gatedVault();
    const team = await openTeamSession(vault, {
      label: 'team/h2',
      capUsd: 100,
      members: { billing: { vendor: 'pay', capUsd: 50 } },
    });
    const billing = team.member('billing');
    // A supervisor tool that runs the member's tool, then fails for an unrelated reason.
    const supervisorError = new Error('supervisor model error');
    const run = runCappedTool({ member: 'supervisor', tool: 'delegate', toolCallId: 'sup_1' }, async () => {
      const ok = await runCappedTool({ member: 'billing', tool: 'charge', toolCallId: 'call_1' }, async () => {
        const response = await billing.fetch()('http://x/charge', { method: 'POST', body: 'amount=1' });
        return response.status;
      });
      expect(ok).toBe(200);
      throw supervisorError;
    });
    await vi.waitFor(() => expect(gate.pricing).toBe(true));
    await billing.refresh();
    gate.open();
    const got2 = await run.catch((e: unknown) => e);
    expect((got2 as { code?: string }).code).toBeUndefined();
    expect(got2).toBe(supervisorError);
    await team.close();
    await vault.close();
  });
});
