import { describe, expect, it } from 'vitest';
import { useRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createVault } from './create-vault.js';

const TWILIO_SID = `AC${'0'.repeat(32)}`;
const BOM = [0xef, 0xbb, 0xbf];

describe('a request body that starts with a byte order mark', () => {
  const { upstream, vaults } = useRecordingUpstream(() => ({ status: 201, body: { sid: 'CA0123', price: null } }));

  // A BOM-stripping decode would price `TimeLimit=60` (1 minute); the vendor reads a parameter named
  // `\uFEFFTimeLimit`, so no time limit, and the call may run Twilio's own 4 hours.
  it.each([
    {
      vendor: 'twilio',
      path: `/2010-04-01/Accounts/${TWILIO_SID}/Calls.json`,
      type: 'application/x-www-form-urlencoded',
      body: 'TimeLimit=60&To=%2B15005550006&From=%2B15005550001&Url=https%3A%2F%2Fx.test%2Ft',
    },
    {
      vendor: 'stripe',
      path: '/v1/payment_intents',
      type: 'application/x-www-form-urlencoded',
      body: 'amount=100&currency=usd&confirm=true&payment_method=pm_card_visa',
    },
    {
      vendor: 'resend',
      path: '/emails',
      type: 'application/json',
      body: '{"from":"a@x.dev","to":["b@x.dev"],"subject":"s","text":"t"}',
    },
  ])('should refuse a $vendor call with 400 and send nothing', async ({ vendor, path, type, body }) => {
    const vault = createVault({
      secrets: {
        stripe: 'sk_test_51RealSecretNeverLeavesTheVault0123',
        twilio: { accountSid: TWILIO_SID, authToken: 'auth-token-0123456789abcdef' },
        resend: 're_123456789abcdefgh',
      },
      upstreams: { stripe: upstream.url, twilio: upstream.url, resend: upstream.url },
    });
    vaults.push(vault);
    const key = await vault.issueKey({ vendor, capUsd: 100, expiresIn: '1h', fallbackEstimateUsd: 1 });
    const send = (bytes: Uint8Array) =>
      vault.handle({ vaultKey: key.vaultKey, method: 'POST', path, headers: { 'content-type': type }, body: bytes });

    const marked = await send(new Uint8Array([...BOM, ...new TextEncoder().encode(body)]));
    expect(marked.status).toBe(400);
    expect(new TextDecoder().decode(marked.body)).toContain('byte order mark');
    expect(upstream.received).toHaveLength(0);
    // The same body without it is sent.
    expect((await send(new TextEncoder().encode(body))).status).toBeLessThan(300);
    expect(upstream.received).toHaveLength(1);
    const { records } = await vault.queryAudit({ keyId: key.id });
    expect(records.map((record) => [record.decision, record.reason])).toEqual([
      ['allowed', undefined],
      ['denied', 'KEYBRAKE_INVALID_REQUEST'],
    ]);
  });
});

describe('a request body declared in a charset other than UTF-8', () => {
  const { upstream, vaults } = useRecordingUpstream(() => ({ status: 201, body: { sid: 'SM0123', price: null } }));
  const path = `/2010-04-01/Accounts/${TWILIO_SID}/Messages.json`;
  // `Ã©` as Latin-1 bytes reads as one `é` in UTF-8: two UCS-2 characters to Twilio, one GSM-7 here.
  const body = new Uint8Array([...new TextEncoder().encode('To=%2B15558675310&Body='), 0xc3, 0xa9]);

  it('should refuse it with 415 and send nothing, and send it declared as UTF-8 in any spelling', async () => {
    const vault = createVault({
      secrets: { twilio: { accountSid: TWILIO_SID, authToken: 'auth-token-0123456789abcdef' } },
      upstreams: { twilio: upstream.url },
    });
    vaults.push(vault);
    const key = await vault.issueKey({ vendor: 'twilio', capUsd: 100, expiresIn: '1h' });
    const send = (type: string) =>
      vault.handle({ vaultKey: key.vaultKey, method: 'POST', path, headers: { 'content-type': type }, body });
    for (const type of [
      'application/x-www-form-urlencoded; charset=ISO-8859-1',
      'application/x-www-form-urlencoded;charset="windows-1252"',
      'application/x-www-form-urlencoded; charset=',
      // Named twice: one parser reads the first, another (Rack) the last.
      'application/x-www-form-urlencoded; charset=utf-8; charset=ISO-8859-1',
      // The first `charset=` in the text is inside another parameter's quoted value.
      'application/x-www-form-urlencoded; x="; charset=utf-8"; charset=ISO-8859-1',
    ]) {
      const refused = await send(type);
      expect(refused.status).toBe(415);
      expect(new TextDecoder().decode(refused.body)).toContain('reads bodies as UTF-8');
    }
    expect(upstream.received).toHaveLength(0);
    for (const type of [
      'application/x-www-form-urlencoded',
      'application/x-www-form-urlencoded;charset=utf-8',
      'application/x-www-form-urlencoded; Charset="UTF-8"',
      'application/x-www-form-urlencoded; x="; charset=ISO-8859-1"; charset=utf-8',
    ]) {
      expect((await send(type)).status).toBe(201);
    }
    expect(upstream.received).toHaveLength(4);
  });
});
