import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import type { KeybrakeError } from '../errors/keybrake-error.js';
import { type DenialServer, startDenialServer } from './__fixtures__/denial-server.js';
import { denials } from './__fixtures__/denials.js';
import { refuseTwilioCredentials, rewriteAccountSid, twilioVendor } from './twilio-vendor.js';

const vendor = twilioVendor();
const ACCOUNT_SID = `AC${'0123456789abcdef'.repeat(2)}`;
const API_KEY_SID = `SK${'fedcba9876543210'.repeat(2)}`;

/** A RequestClient that sends Twilio's requests to a local server instead of api.twilio.com. */
class LocalRequestClient extends twilio.RequestClient {
  constructor(
    private readonly origin: string,
    options?: RequestClient.RequestClientOptions,
  ) {
    super(options);
  }

  override request<TData>(options: RequestClient.RequestOptions<TData>) {
    return super.request<TData>({ ...options, uri: options.uri.replace(/^https:\/\/api\.twilio\.com/, this.origin) });
  }
}

describe('twilioVendor', () => {
  describe('secrets and authorisation', () => {
    it('should accept an auth token or an API key', () => {
      expect(vendor.parseSecret({ accountSid: ACCOUNT_SID, authToken: 'token' })).toEqual({
        accountSid: ACCOUNT_SID,
        authToken: 'token',
      });
      expect(vendor.parseSecret({ accountSid: ACCOUNT_SID, apiKeySid: API_KEY_SID, apiKeySecret: 's' })).toMatchObject({
        apiKeySid: API_KEY_SID,
      });
    });

    it('should reject malformed secrets without echoing them', () => {
      for (const secret of [
        'AC123:token',
        { accountSid: 'AC1', authToken: 'TOPSECRET' },
        { accountSid: ACCOUNT_SID },
        // Read from an env file with its line ending.
        { accountSid: ACCOUNT_SID, authToken: 'token\r\n' },
        { accountSid: ACCOUNT_SID, apiKeySid: API_KEY_SID, apiKeySecret: 'secret\n' },
      ]) {
        expect(() => vendor.parseSecret(secret)).toThrow(InvalidPolicyError);
      }
      expect(() => vendor.parseSecret({ accountSid: 'AC1', authToken: 'TOPSECRET' })).toThrow(
        expect.objectContaining({ message: expect.not.stringContaining('TOPSECRET') }),
      );
    });

    it('should authorise with the Account SID and auth token and rewrite the account in the path', () => {
      const headers: Record<string, string> = {};
      const { path } = vendor.authorize(
        { path: '/2010-04-01/Accounts/ACplaceholder/Messages.json', headers },
        { accountSid: ACCOUNT_SID, authToken: 'token' },
      );
      expect(path).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`);
      expect(headers.authorization).toBe(`Basic ${Buffer.from(`${ACCOUNT_SID}:token`).toString('base64')}`);
    });

    it('should authorise with an API key SID and secret', () => {
      const headers: Record<string, string> = {};
      vendor.authorize(
        { path: '/2010-04-01/Accounts.json', headers },
        { accountSid: ACCOUNT_SID, apiKeySid: API_KEY_SID, apiKeySecret: 's' },
      );
      expect(headers.authorization).toBe(`Basic ${Buffer.from(`${API_KEY_SID}:s`).toString('base64')}`);
    });
  });

  describe('refuseTwilioCredentials', () => {
    const sip = '/2010-04-01/Accounts/ACxyz/SIP';
    it.each([
      `${sip}/CredentialLists/CL1/Credentials.json`,
      `${sip}/CredentialLists/CL1/Credentials/CR1.json`,
      `${sip}/IpAccessControlLists/AL1/IpAddresses.json`,
      `${sip}/IpAccessControlLists/AL1/IpAddresses/IP1.json`,
      `${sip}/ipaccesscontrollists/AL1/IpAddresses`,
      `${sip}/Domains/SD1/IpAccessControlListMappings.json`,
      `${sip}/Domains/SD1/CredentialListMappings/CL1.json`,
      `${sip}/Domains/SD1/Auth/Calls/IpAccessControlListMappings.json`,
      `${sip}/Domains/SD1/Auth/Calls/CredentialListMappings.xml`,
      `${sip}/Domains/SD1/Auth/Registrations/CredentialListMappings/CL1.json`,
    ])('should refuse %s, which lets callers into a SIP domain', (path) => {
      for (const method of ['POST', 'DELETE', 'GET']) expect(refuseTwilioCredentials(method, path)).toBeDefined();
    });

    it.each([
      `${sip}/CredentialLists.json`,
      `${sip}/IpAccessControlLists.json`,
      `${sip}/IpAccessControlLists/AL1.json`,
      `${sip}/Domains.json`,
      `${sip}/Domains/SD1.json`,
      '/2010-04-01/Accounts/ACxyz/Calls.json',
    ])('should forward %s', (path) => {
      expect(refuseTwilioCredentials('POST', path)).toBeUndefined();
    });
  });

  describe('rewriteAccountSid', () => {
    it.each([
      ['/2010-04-01/Accounts/ACxyz/Calls/CA1.json', `/2010-04-01/Accounts/${ACCOUNT_SID}/Calls/CA1.json`],
      ['/2010-04-01/Accounts/ACxyz.json', `/2010-04-01/Accounts/${ACCOUNT_SID}.json`],
      ['/2010-04-01/Accounts.json', '/2010-04-01/Accounts.json'],
      ['/v1/Services', '/v1/Services'],
    ])('should rewrite %s to %s', (path, expected) => {
      expect(rewriteAccountSid(path, ACCOUNT_SID)).toBe(expected);
    });
  });

  describe('denials seen through twilio-node', () => {
    let server: DenialServer;

    beforeAll(async () => {
      server = await startDenialServer();
    });
    afterAll(() => server.close());

    async function deny(error: KeybrakeError, options?: { autoRetry: boolean }): Promise<unknown> {
      server.answerWith(vendor.errorResponse(error));
      const client = twilio(ACCOUNT_SID, 'kb_test_vaultkey', {
        httpClient: new LocalRequestClient(server.origin, options),
      });
      return client.messages.create({ to: '+15558675310', from: '+15557122661', body: 'hi' }).then(
        () => {
          throw new Error('expected a Twilio error');
        },
        (thrown: unknown) => thrown,
      );
    }

    it.each([
      ['cap', denials.cap, 429, 20429],
      ['endpoint', denials.endpoint, 403, 20403],
      ['revoked', denials.revoked, 401, 20003],
      ['storage', denials.storage, 503, 20503],
    ] as const)(
      'should throw the %s denial as a RestException, from one request',
      async (_name, error, status, code) => {
        const thrown = await deny(error);
        expect(thrown).toBeInstanceOf(twilio.RestException);
        expect(thrown).toMatchObject({
          status,
          code,
          moreInfo: `https://keybrake.dev/errors/${error.code}`,
          details: { keybrake_code: error.code, code: error.code },
        });
        expect((thrown as Error).message).toBe(`${error.code}: ${error.message}`);
        expect(server.requests).toHaveLength(1);
        expect(server.requests[0]?.url).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`);
      },
    );

    it('should be retried by a client created with autoRetry, which retries every 429 regardless of the answer', async () => {
      const thrown = await deny(denials.cap, { autoRetry: true });
      expect(thrown).toBeInstanceOf(twilio.RestException);
      expect(server.requests).toHaveLength(4);
    });
  });
});
