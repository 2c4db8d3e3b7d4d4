// Who the audit says made a call through a capped fetch: the fetch's own actor over its scope's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditActor } from '../audit/audit-record.js';
import { createAcmeVault } from '../test-utils/create-acme-vault.js';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { runWithActor } from './actor-context.js';

describe('the actor of a capped fetch', () => {
  let upstream: Awaited<ReturnType<typeof startRecordingUpstream>>;
  beforeAll(async () => {
    upstream = await startRecordingUpstream(() => ({ body: { id: 'ch_1' } }));
  });
  afterAll(() => upstream.close());

  /** The actor audited for one call through a fetch with `own`, inside a scope with `scope` (if any). */
  async function audited(own: AuditActor | undefined, scope: AuditActor | undefined): Promise<AuditActor | undefined> {
    const vault = createAcmeVault({ baseUrl: upstream.url, prices: { 'POST /v1/charges': 1 } });
    try {
      const key = await vault.issueKey({ vendor: 'acme', capUsd: 10 });
      const send = vault.createFetch({ vaultKey: key.vaultKey, actor: own });
      const call = () => send(`${upstream.url}/v1/charges`, { method: 'POST', body: '' });
      expect((await (scope ? runWithActor(scope, call) : call())).status).toBe(200);
      return (await vault.queryAudit({ keyId: key.id })).records[0]?.actor;
    } finally {
      await vault.close();
    }
  }

  const supervisorTool = { member: 'supervisor', tool: 'ask_billing', toolCallId: 'call_sup' };

  it("should not take a supervisor's tool and call for the calls of another member it runs", async () => {
    expect(await audited({ member: 'billing' }, supervisorTool)).toEqual({ member: 'billing' });
  });

  it("should take its own member's tool and call from the scope, and the scope's actor when it has none", async () => {
    const billingTool = { member: 'billing', tool: 'charge', toolCallId: 'call_1' };
    expect(await audited({ member: 'billing' }, billingTool)).toEqual(billingTool);
    expect(await audited(undefined, supervisorTool)).toEqual(supervisorTool);
    expect(await audited({ tool: 'charge' }, supervisorTool)).toEqual({ ...supervisorTool, tool: 'charge' });
    expect(await audited({ member: 'billing' }, undefined)).toEqual({ member: 'billing' });
  });
});
