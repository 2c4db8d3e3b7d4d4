import type { AuditQueryResult } from '../audit/audit-record.js';
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import { KeyExpiredError } from '../errors/key-expired-error.js';
import { KeyRevokedError } from '../errors/key-revoked-error.js';
import { forgetDenial, scopeDenials } from '../fetch/actor-context.js';
import { createCappedFetch, readBody } from '../fetch/create-capped-fetch.js';
import type { IssuedKey } from '../keys/issue-key-options.js';
import type { KeyStatus } from '../keys/key-status.js';
import { parseDuration } from '../keys/parse-duration.js';
import { toOptionalMicroUsd } from '../money/micro-usd.js';
import { parseEndpointPattern } from '../paths/endpoint-matcher.js';
import type { Vault } from '../vault/create-vault.js';
import type { TeamMemberPlan, TeamPlan } from './team-plan.js';

/** A member's key for one vendor. The vault key is held here, never in agent messages. */
export interface MemberKey {
  vendor: string;
  keyId: string;
  /** The member that owns this key (differs from the holder for a shared key). */
  owner: string;
  label?: string | undefined;
  expiresAt: string;
  /** The secret to give an official SDK as its API key. Not enumerable, so it is never serialised by accident. */
  readonly vaultKey: string;
}

/** A member of an open team session. */
export interface TeamMember {
  name: string;
  /** `<session label>/<member>`. */
  label: string;
  /** The member's budget key: its caps, under the session key, above its vendor keys. */
  keyId: string;
  /** Keys by vendor: the member's own and those shared with it (one per vendor). */
  keys: Readonly<Record<string, MemberKey>>;
  /**
   * The member's key for a vendor; omitted, its own vendor's (a member of several vendors must
   * name one). @throws {InvalidPolicyError} if it has none.
   */
  key(vendor?: string): MemberKey;
  /** A capped fetch bound to the member's key for a vendor, chosen as {@link TeamMember.key} does. */
  fetch(vendor?: string): typeof fetch;
  /** Status of the member's budget key. */
  status(): Promise<KeyStatus>;
  /**
   * Replaces the member's vendor keys with new ones under the same budget key, with a fresh
   * lifetime (bounded by the session's), then revokes the old ones. The caps stay on the budget
   * key, so calls in flight and calls after the refresh count against the same budget. Handles
   * and fetches made from this member keep working: a call of its fetches that the revocation
   * catches while the vault is still checking it (nothing sent yet) is sent again with the new key.
   * A client built with the vault key string itself (`key().vaultKey` to an SDK through the
   * proxy) must be rebuilt. Use it for long sessions with short member keys; a session key
   * itself cannot be refreshed — give it the TTL of the whole run.
   */
  refresh(options?: { expiresIn?: string | number }): Promise<void>;
}

/** An open team session: one session key with a sub-capped key per member. */
export interface TeamSession {
  label: string;
  /** The session (root) key id: query audits with it. */
  sessionKeyId: string;
  expiresAt: string;
  members: Readonly<Record<string, TeamMember>>;
  /** A member by name. @throws {InvalidPolicyError} for an unknown name. */
  member(name: string): TeamMember;
  /** The session key's status. */
  status(): Promise<KeyStatus>;
  /** The session's audit records and per-member totals. */
  audit(limit?: number): Promise<AuditQueryResult>;
  /**
   * Revokes the session key and with it every member key, then waits (up to 150 s) for the calls members'
   * fetches have at the vault, so `status()` and `audit()` read afterwards count them. Calls made
   * with a key string elsewhere (through the proxy) are not waited for.
   */
  close(): Promise<void>;
}

const asList = (vendor: TeamMemberPlan['vendor']): string[] =>
  vendor === undefined ? [] : typeof vendor === 'string' ? [vendor] : [...vendor];

function endpointsFor(plan: TeamMemberPlan, vendor: string): readonly string[] | undefined {
  const endpoints = plan.allowedEndpoints;
  if (endpoints === undefined) return undefined;
  if (Array.isArray(endpoints)) return endpoints as readonly string[];
  const byVendor = endpoints as Readonly<Record<string, readonly string[]>>;
  return Object.hasOwn(byVendor, vendor) ? byVendor[vendor] : undefined;
}

/**
 * Checks the whole plan before any key is issued, so a bad plan leaves nothing in the store and
 * its error names the member at fault: names, vendors (known to the vault, each once), shared
 * keys of real members, a per-vendor allow-list naming exactly the member's vendors, caps and
 * lifetimes within the session's, labels that fit.
 */
function assertPlan(vault: Vault, plan: TeamPlan): void {
  const fail = (message: string): never => {
    throw new InvalidPolicyError({ message: `Invalid team plan ${JSON.stringify(plan.label)}: ${message}` });
  };
  if (typeof plan.label !== 'string' || plan.label === '') fail('it needs a label.');
  const sessionMicros = toOptionalMicroUsd(plan.capUsd);
  const sessionDailyMicros = toOptionalMicroUsd(plan.dailyCapUsd);
  const sessionMs = parseDuration(plan.ttl ?? '1h');
  if (Object.keys(plan.members ?? {}).length === 0) fail('it names no members.');
  for (const [name, member] of Object.entries(plan.members)) {
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) fail(`invalid member name "${name}".`);
    if (`${plan.label}/${name}/`.length + Math.max(0, ...asList(member.vendor).map((v) => v.length)) > 200) {
      fail(`member "${name}"'s labels would pass 200 characters; shorten the session label.`);
    }
    const vendors = asList(member.vendor);
    if (vendors.length === 0) fail(`member "${name}" names no vendor.`);
    for (const [index, vendor] of vendors.entries()) {
      if (!vault.vendors.includes(vendor)) {
        fail(`member "${name}" names unknown vendor "${vendor}" (this vault fronts: ${vault.vendors.join(', ')}).`);
      }
      if (vendors.indexOf(vendor) !== index) fail(`member "${name}" names vendor "${vendor}" twice.`);
    }
    // Vendor → whose key the member holds for it: two keys for one vendor could not both be reached.
    const holders = new Map<string, string>(vendors.map((vendor) => [vendor, 'its own']));
    for (const other of member.shareKeysOf ?? []) {
      if (!Object.hasOwn(plan.members, other)) fail(`member "${name}" shares keys of unknown member "${other}".`);
      for (const vendor of asList(plan.members[other]?.vendor)) {
        const holder = holders.get(vendor);
        if (holder !== undefined) {
          fail(
            `member "${name}" would hold two ${vendor} keys, ${holder} and "${other}"'s, and could use only one; share keys of another vendor.`,
          );
        }
        holders.set(vendor, `"${other}"'s`);
      }
    }
    const endpoints = member.allowedEndpoints;
    if (endpoints === null || (endpoints !== undefined && typeof endpoints !== 'object')) {
      fail(
        `member "${name}"'s allowedEndpoints must be a list, or one list per vendor; omit it to allow every endpoint.`,
      );
    }
    if (endpoints !== undefined && !Array.isArray(endpoints)) {
      const listed = Object.keys(endpoints);
      for (const vendor of listed) {
        if (!vendors.includes(vendor)) {
          fail(
            `member "${name}"'s allowedEndpoints name "${vendor}", which is not one of its vendors (${vendors.join(', ')}).`,
          );
        }
      }
      for (const vendor of vendors) {
        if (!listed.includes(vendor)) {
          fail(`member "${name}"'s allowedEndpoints give no list for "${vendor}" (use ["* /**"] to allow all of it).`);
        }
      }
    }
    // What issuing would refuse, refused here first, naming the member.
    const named = <T>(what: string, read: () => T): T => {
      try {
        return read();
      } catch (error) {
        return fail(`member "${name}"'s ${what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    const lists = endpoints === undefined ? [] : Array.isArray(endpoints) ? [endpoints] : Object.values(endpoints);
    for (const list of lists) {
      if (!Array.isArray(list)) fail(`member "${name}"'s allowedEndpoints must hold a list for each vendor.`);
      for (const entry of list as readonly string[]) named('allowedEndpoints', () => parseEndpointPattern(entry));
    }
    named('perCallMaxUsd', () => toOptionalMicroUsd(member.perCallMaxUsd));
    named('fallbackEstimateUsd', () => toOptionalMicroUsd(member.fallbackEstimateUsd));
    if (member.maxCalls !== undefined && !(Number.isSafeInteger(member.maxCalls) && member.maxCalls >= 0)) {
      fail(`member "${name}"'s maxCalls must be a whole number, got ${member.maxCalls}.`);
    }
    const memberMicros = named('capUsd', () => toOptionalMicroUsd(member.capUsd));
    if (sessionMicros !== undefined && memberMicros !== undefined && memberMicros > sessionMicros) {
      fail(`member "${name}"'s cap ($${member.capUsd}) is above the session's ($${plan.capUsd}).`);
    }
    const memberDailyMicros = named('dailyCapUsd', () => toOptionalMicroUsd(member.dailyCapUsd));
    if (sessionDailyMicros !== undefined && memberDailyMicros !== undefined && memberDailyMicros > sessionDailyMicros) {
      fail(`member "${name}"'s daily cap ($${member.dailyCapUsd}) is above the session's ($${plan.dailyCapUsd}).`);
    }
    if (
      member.keyTtl !== undefined &&
      named('keyTtl', () => parseDuration(member.keyTtl as string | number)) > sessionMs
    ) {
      fail(`member "${name}"'s keyTtl (${member.keyTtl}) is longer than the session's ttl (${plan.ttl ?? '1h'}).`);
    }
  }
}

function toMemberKey(issued: IssuedKey, owner: string): MemberKey {
  const key = {
    vendor: issued.vendor as string,
    keyId: issued.id,
    owner,
    label: issued.label,
    expiresAt: issued.expiresAt,
  } as MemberKey;
  Object.defineProperty(key, 'vaultKey', { value: issued.vaultKey, enumerable: false });
  return key;
}

/**
 * Opens a team session from a plan: issues the session key and one sub-capped child key per
 * member (per vendor), and returns handles with capped fetches bound to each member's keys.
 * Closing the session revokes everything. Each member's cap is at most the session's, but the
 * members' caps may add up to more: the session cap bounds what they spend together. Vault keys
 * are stored as hashes, so a session cannot be reopened after a restart; issue children of its
 * budget keys by id (`vault.issueKey({ parentId })`), or open a new session.
 *
 * @param vault - The vault holding the real secrets.
 * @param plan - Session cap, TTL, label and per-member sub-caps, vendors and endpoints.
 * @throws {InvalidPolicyError} if the plan is inconsistent (no members, a member cap or TTL above
 *   the session's, a vendor the vault does not front, two keys for one vendor).
 * @example
 * ```ts
 * const team = await openTeamSession(vault, {
 *   label: 'billing-team/sess_42', capUsd: 200, ttl: '1h',
 *   members: {
 *     billing: { vendor: 'stripe', capUsd: 150, allowedEndpoints: ['POST /v1/payment_intents', 'GET /v1/customers/*'] },
 *     notifications: { vendor: 'twilio', capUsd: 50, shareKeysOf: ['billing'] },
 *   },
 * });
 * const stripe = new Stripe(team.member('billing').key('stripe').vaultKey, {
 *   httpClient: Stripe.createFetchHttpClient(team.member('billing').fetch('stripe')),
 * });
 * ```
 */
export async function openTeamSession(vault: Vault, plan: TeamPlan): Promise<TeamSession> {
  assertPlan(vault, plan);
  const session = await vault.issueKey({
    capUsd: plan.capUsd,
    dailyCapUsd: plan.dailyCapUsd,
    expiresIn: plan.ttl ?? '1h',
    label: plan.label,
    metadata: { ...plan.metadata, kind: 'team-session' },
  });
  try {
    const own = new Map<string, { budgetKeyId: string; keys: Record<string, MemberKey> }>();
    for (const [name, member] of Object.entries(plan.members)) {
      own.set(name, await issueMemberKeys(vault, session.id, `${plan.label}/${name}`, name, member));
    }
    const inFlight = new CallsInFlight();
    const members: Record<string, TeamMember> = Object.create(null);
    for (const [name, member] of Object.entries(plan.members)) {
      members[name] = createMember(vault, `${plan.label}/${name}`, name, member, own, plan.members, inFlight);
    }
    return {
      label: plan.label,
      sessionKeyId: session.id,
      expiresAt: session.expiresAt,
      members,
      member(name) {
        const found = Object.hasOwn(members, name) ? members[name] : undefined;
        if (!found) throw new InvalidPolicyError({ message: `No member "${name}" in team session ${plan.label}.` });
        return found;
      },
      status: () => vault.getKeyStatus(session.id),
      audit: (limit = 1000) => vault.queryAudit({ rootKeyId: session.id, limit }),
      async close() {
        await vault.revokeKey(session.id);
        // Calls already past their checks still reach the vendor: wait for their answers, so a
        // status or audit read after close() counts them.
        await inFlight.drain();
      },
    };
  } catch (error) {
    await vault.revokeKey(session.id).catch(() => {});
    throw error;
  }
}

/**
 * A member's keys: a budget key under the session holding the member's caps for the session's
 * whole life (never handed to an agent), and under it one uncapped key per vendor, which agents
 * hold and `refresh()` replaces. Caps are never copied from key to key, so no refresh can grant
 * a budget twice, whatever calls are in flight.
 */
async function issueMemberKeys(
  vault: Vault,
  sessionId: string,
  label: string,
  name: string,
  plan: TeamMemberPlan,
): Promise<{ budgetKeyId: string; keys: Record<string, MemberKey> }> {
  const budget = await vault.issueKey({
    parentId: sessionId,
    capUsd: plan.capUsd,
    dailyCapUsd: plan.dailyCapUsd,
    maxCalls: plan.maxCalls,
    perCallMaxUsd: plan.perCallMaxUsd,
    fallbackEstimateUsd: plan.fallbackEstimateUsd,
    label,
    metadata: { member: name },
  });
  return { budgetKeyId: budget.id, keys: await issueVendorKeys(vault, budget.id, label, name, plan, plan.keyTtl) };
}

/** The member's vendor keys under its budget key: the single vendor's labelled as the member. */
async function issueVendorKeys(
  vault: Vault,
  budgetKeyId: string,
  label: string,
  name: string,
  plan: TeamMemberPlan,
  expiresIn: string | number | undefined,
): Promise<Record<string, MemberKey>> {
  const vendors = asList(plan.vendor);
  const keys: Record<string, MemberKey> = {};
  for (const vendor of vendors) {
    const issued = await vault.issueKey({
      parentId: budgetKeyId,
      vendor,
      label: vendors.length === 1 ? label : `${label}/${vendor}`,
      allowedEndpoints: endpointsFor(plan, vendor),
      expiresIn,
      // Refreshed near the end of the session, a key lives as long as the session still does.
      expiresWithParent: true,
      metadata: { member: name },
    });
    keys[vendor] = toMemberKey(issued, name);
  }
  return keys;
}

/** The longest `close()` waits for calls in flight: a call takes at most about 2 × upstreamTimeout. */
const DRAIN_TIMEOUT_MS = 150_000;

/** Whether the capped fetch can be given these arguments twice: a stream or a Request is read once. */
function isReplayable(input: Parameters<typeof fetch>[0], init: RequestInit | undefined): boolean {
  if (input instanceof Request) return false;
  const body = init?.body;
  return (
    body === undefined ||
    body === null ||
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    body instanceof ArrayBuffer ||
    body instanceof URLSearchParams
  );
}

/** The same call with its body read into bytes, so it can be sent twice. */
async function readOnce(
  input: Parameters<typeof fetch>[0],
  init: RequestInit | undefined,
): Promise<[string, RequestInit]> {
  const request = new Request(input, init);
  // Given up as soon as the caller aborts, as the capped fetch does: a stream may stall.
  const body = request.body ? await readBody(request) : undefined;
  return [request.url, { method: request.method, headers: request.headers, body, signal: request.signal }];
}

/** `init` with its body as it is now: bytes copied, params as text. */
function snapshot(init: RequestInit | undefined): RequestInit | undefined {
  const body = init?.body;
  if (body instanceof Uint8Array || body instanceof ArrayBuffer)
    return { ...init, body: new Uint8Array(body.slice(0)) };
  if (body instanceof URLSearchParams) {
    const headers = new Headers(init?.headers);
    if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8');
    return { ...init, headers, body: body.toString() };
  }
  return init;
}

/** The calls made through members' fetches that have not been answered yet. */
class CallsInFlight {
  readonly #calls = new Set<Promise<unknown>>();
  /** Tracks `call` until it settles; returns it. */
  track<T>(call: Promise<T>): Promise<T> {
    this.#calls.add(call);
    const done = () => this.#calls.delete(call);
    call.then(done, done);
    return call;
  }
  /**
   * Resolves once the calls in flight have been answered, or after `timeoutMs` (a request body its
   * caller never ends would otherwise hold it forever).
   */
  async drain(timeoutMs = DRAIN_TIMEOUT_MS): Promise<void> {
    const calls = [...this.#calls];
    if (calls.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs).unref();
    });
    await Promise.race([Promise.allSettled(calls), late]);
    clearTimeout(timer);
  }
}

function createMember(
  vault: Vault,
  label: string,
  name: string,
  plan: TeamMemberPlan,
  own: Map<string, { budgetKeyId: string; keys: Record<string, MemberKey> }>,
  allPlans: Readonly<Record<string, TeamMemberPlan>>,
  inFlight: CallsInFlight,
): TeamMember {
  const current = () => own.get(name) as { budgetKeyId: string; keys: Record<string, MemberKey> };
  let refreshing: Promise<void> = Promise.resolve();
  const keys = (): Record<string, MemberKey> => {
    // Own properties only (`key()` reads them with `Object.hasOwn`): a vendor named `constructor`
    // is a vendor like any other, and unknown.
    const entries: Array<[string, MemberKey]> = [];
    for (const other of plan.shareKeysOf ?? []) entries.push(...Object.entries(own.get(other)?.keys ?? {}));
    entries.push(...Object.entries(current().keys));
    return Object.fromEntries(entries);
  };
  const key = (vendor?: string): MemberKey => {
    const all = keys();
    const names = Object.keys(all);
    // Omitted: the member's own vendor, or its only key; a member of several vendors must name one.
    const ownVendors = asList(plan.vendor);
    const chosen = vendor ?? (ownVendors.length === 1 ? ownVendors[0] : names.length === 1 ? names[0] : undefined);
    const found = chosen !== undefined && Object.hasOwn(all, chosen) ? all[chosen] : undefined;
    if (!found) {
      throw new InvalidPolicyError({
        message:
          vendor === undefined && chosen === undefined
            ? `Member "${name}" holds keys for several vendors (${names.join(', ')}): name one, e.g. key('${names[0]}').`
            : `Member "${name}" holds no ${vendor ?? 'default'} key (it has: ${names.join(', ')}).`,
      });
    }
    return found;
  };
  return {
    name,
    label,
    get keyId() {
      return current().budgetKeyId;
    },
    get keys() {
      return keys();
    },
    key,
    fetch(vendor) {
      // Resolve the key on every call, so a refreshed key is used without re-creating clients.
      // Async, so a vendor the member holds no key for rejects as fetch would, never throws.
      return async (input, init) => {
        // A body that can be read only once (a stream, a Request) is read first, so the call can be
        // sent again after a refresh; the capped fetch reads it whole anyway.
        // A byte or params body is copied now, as fetch does: the caller may reuse it at once.
        const [target, options] = isReplayable(input, init) ? [input, snapshot(init)] : await readOnce(input, init);
        const send = (memberKey: MemberKey) =>
          inFlight.track(
            createCappedFetch(vault, { vaultKey: memberKey.vaultKey, actor: { member: name } })(target, options),
          );
        const first = key(vendor);
        const noted = new Set(scopeDenials());
        const response = await send(first);
        // A refresh revoked the key while the vault was still checking the call (a Stripe estimate
        // reading a PaymentIntent): nothing was sent, so send it once more with the new key. Its
        // denial is taken back from the tool run: the call goes on, and must not stop the run.
        if (response.status === 401 && response.headers.get('x-keybrake-code') === 'KEYBRAKE_KEY_REVOKED') {
          const now = key(vendor);
          if (now.keyId !== first.keyId) {
            for (const denial of scopeDenials())
              if (!noted.has(denial) && denial.code === 'KEYBRAKE_KEY_REVOKED') forgetDenial(denial);
            return send(now);
          }
        }
        return response;
      };
    },
    status: () => vault.getKeyStatus(current().budgetKeyId),
    refresh(options = {}) {
      // One at a time: two overlapping refreshes would each revoke only the keys they replaced,
      // leaving the first one's new keys live and untracked.
      const run = async () => {
        const previous = current();
        const keys = await issueVendorKeys(
          vault,
          previous.budgetKeyId,
          label,
          name,
          allPlans[name] ?? plan,
          options.expiresIn ?? plan.keyTtl,
        ).catch((error: unknown) => {
          // Said of the session, not as the denial of a call an agent should report.
          if (error instanceof KeyRevokedError || error instanceof KeyExpiredError) {
            const state = error instanceof KeyRevokedError ? 'closed (its key revoked)' : 'expired';
            throw new InvalidPolicyError({
              message: `Member "${name}" cannot be refreshed: its team session is ${state}. Open a new session.`,
              cause: error,
            });
          }
          throw error;
        });
        own.set(name, { budgetKeyId: previous.budgetKeyId, keys });
        // New calls take the new keys from here on. A call of this member's fetches still being
        // checked on an old key is denied as revoked, and sent again with the new key by the fetch.
        await Promise.all(Object.values(previous.keys).map((key) => vault.revokeKey(key.keyId)));
      };
      const next = refreshing.then(run, run);
      refreshing = next.catch(() => {});
      return next;
    },
  };
}
