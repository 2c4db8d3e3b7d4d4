import { z } from 'zod';
import { createTwilioCostModel, type TwilioCostOptions } from '../costs/twilio/twilio-cost-model.js';
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import type { KeybrakeError } from '../errors/keybrake-error.js';
import type { VendorDefinition, VendorErrorResponse } from './vendor-definition.js';

/** Twilio credentials: the Account SID with its auth token, or with an API key SID and secret. */
export type TwilioSecret =
  | { accountSid: string; authToken: string }
  | { accountSid: string; apiKeySid: string; apiKeySecret: string };

const accountSid = z.string().regex(/^AC[0-9a-fA-F]{32}$/);
/** Printable ASCII without spaces: a trailing newline from an env file would fail every call at Twilio (401). */
const token = z.string().regex(/^[\x21-\x7e]+$/);
const secretSchema = z.union([
  z.strictObject({ accountSid, apiKeySid: z.string().regex(/^SK[0-9a-fA-F]{32}$/), apiKeySecret: token }),
  z.strictObject({ accountSid, authToken: token }),
]);

/**
 * The Twilio vendor: `https://api.twilio.com`, authorised with HTTP Basic (Account SID + auth
 * token, or API key SID + secret), priced by {@link createTwilioCostModel}. The `/Accounts/{sid}/`
 * segment of every path is rewritten to the real Account SID, so agents may use any placeholder.
 * Denials are answered in Twilio's error shape so that twilio-node throws a `RestException`.
 *
 * Twilio's `RequestClient` retries 429 answers only when created with `autoRetry: true` (off by
 * default), and then retries every 429 whatever the body or headers say (up to `maxRetries`,
 * default 3): keep `autoRetry` off for clients using a vault key. A retried denial is denied again
 * and costs nothing.
 *
 * @param options - Cost-model options; see {@link TwilioCostOptions}.
 * @returns The vendor definition.
 * @example
 * ```ts
 * const vault = createVault({ secrets: { twilio: { accountSid: 'AC…', authToken: '…' } } });
 * ```
 */
export function twilioVendor(options: TwilioCostOptions = {}): VendorDefinition<TwilioSecret> {
  return {
    name: 'twilio',
    baseUrl: 'https://api.twilio.com',
    costModel: createTwilioCostModel(options),
    requestIdHeader: 'twilio-request-id',
    parseSecret(secret) {
      const parsed = secretSchema.safeParse(secret);
      if (!parsed.success) {
        throw new InvalidPolicyError({
          message:
            'Invalid Twilio secret: expected { accountSid: "AC…", authToken } or { accountSid: "AC…", apiKeySid: "SK…", apiKeySecret }, the token or secret printable ASCII without spaces (a trailing newline from an env file?).',
        });
      }
      return parsed.data;
    },
    authorize(request, secret) {
      const [username, password] =
        'apiKeySid' in secret ? [secret.apiKeySid, secret.apiKeySecret] : [secret.accountSid, secret.authToken];
      request.headers.authorization = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
      return { path: rewriteAccountSid(request.path, secret.accountSid) };
    },
    refuse: refuseTwilioCredentials,
    errorResponse: twilioErrorResponse,
  };
}

/**
 * Twilio endpoints a vault never forwards: the Account resource (`/2010-04-01/Accounts.json`,
 * `/Accounts/{sid}.json`), which carries the real auth token of the account and of its
 * subaccounts, and credentials: API keys (`Keys`, `SigningKeys`), network `Tokens`, the
 * credentials of SIP credential lists (`SIP/CredentialLists/{sid}/Credentials`), the addresses of
 * SIP IP access control lists (`SIP/IpAccessControlLists/{sid}/IpAddresses`), and a SIP domain's
 * mappings of either (`SIP/Domains/{sid}/(Auth/Calls/|Auth/Registrations/)?…ListMappings`), in
 * any method. An `accounts` segment spelled otherwise than `Accounts` is refused too, as it would
 * escape the Account SID rewrite.
 *
 * @returns Why the call is refused, or `undefined`.
 */
export function refuseTwilioCredentials(_method: string, path: string): string | undefined {
  const segments = path.split('/');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(segments[1] ?? '')) return undefined;
  // Any extension (`.json`, `.xml`, `.csv`…) and any letter case: Twilio may route them alike.
  const resource = (segments[2] ?? '').replace(/\.[A-Za-z0-9]*$/, '');
  if (resource.toLowerCase() !== 'accounts') return undefined;
  if (resource !== 'Accounts') return 'a Twilio path spells Accounts with a capital A';
  if (segments.length <= 4) return 'the Twilio Account resource carries the real auth token';
  const sub = (segments[4] ?? '').replace(/\.[A-Za-z0-9]*$/, '').toLowerCase();
  if (sub === 'keys' || sub === 'signingkeys') return 'Twilio API keys are credentials';
  // Network traversal (TURN) tokens, and SIP credentials a device registers with to place calls.
  if (sub === 'tokens') return 'Twilio network tokens are credentials';
  if (sub !== 'sip') return undefined;
  const last = withoutExtension(segments.at(-1) ?? '');
  const list = (segments[5] ?? '').toLowerCase();
  if (list === 'credentiallists' && (last === 'credentials' || segments.length > 8)) {
    return 'Twilio SIP credentials are credentials';
  }
  // The other way a SIP domain admits callers: from an IP address on a mapped access control list.
  if (list === 'ipaccesscontrollists' && (last === 'ipaddresses' || segments.length > 8)) {
    return 'the IP addresses of a Twilio SIP IP access control list are credentials: calls from them need no password';
  }
  // Mapping a credential list or an IP access control list to a domain (`…/Domains/{sid}/…Mappings`,
  // `…/Domains/{sid}/Auth/Calls/…`, `…/Auth/Registrations/…`) lets its members call through it.
  if (
    list === 'domains' &&
    segments
      .slice(7)
      .some((segment) => /^(credentiallist|ipaccesscontrollist)mappings$/.test(withoutExtension(segment)))
  ) {
    return 'mapping a Twilio SIP credential list or IP access control list to a domain grants calls through the domain';
  }
  return undefined;
}

/** A path segment in lower case, without its extension (`.json`, `.xml`…). */
function withoutExtension(segment: string): string {
  return segment.replace(/\.[A-Za-z0-9]*$/, '').toLowerCase();
}

/**
 * Replaces the account segment of a Twilio REST path (`/2010-04-01/Accounts/{sid}/…` or
 * `/2010-04-01/Accounts/{sid}.json`) with the given Account SID; other paths are unchanged.
 *
 * @example
 * ```ts
 * rewriteAccountSid('/2010-04-01/Accounts/ACplaceholder/Messages.json', 'AC0123…');
 * // '/2010-04-01/Accounts/AC0123…/Messages.json'
 * ```
 */
export function rewriteAccountSid(path: string, sid: string): string {
  const segments = path.split('/');
  if (segments.length < 4 || !/^\d{4}-\d{2}-\d{2}$/.test(segments[1] ?? '') || segments[2] !== 'Accounts') return path;
  const account = segments[3] ?? '';
  if (account === '' || account === '.json') return path;
  segments[3] = account.endsWith('.json') && segments.length === 4 ? `${sid}.json` : sid;
  return segments.join('/');
}

/**
 * Renders a Keybrake denial as a Twilio REST error. twilio-node's `RestException` takes `status`
 * from the HTTP status and `message`, `code`, `moreInfo` (`more_info`) and `details` from the body;
 * the body has no `type`/`title`, so it is not mistaken for an RFC 9457 `TwilioServiceException`.
 * `code` is Twilio's numeric code for the status (20000 + status; 401 → 20003).
 *
 * @param error - The denial.
 * @returns Status, headers and JSON body.
 * @example
 * ```ts
 * JSON.parse(twilioErrorResponse(capError).body).code; // 20429
 * ```
 */
export function twilioErrorResponse(error: KeybrakeError): VendorErrorResponse {
  return {
    status: error.status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      code: error.status === 401 ? 20003 : 20000 + error.status,
      message: `${error.code}: ${error.message}`,
      more_info: `https://keybrake.dev/errors/${error.code}`,
      status: error.status,
      details: { keybrake_code: error.code, ...error.toJSON() },
    }),
  };
}
