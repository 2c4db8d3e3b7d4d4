import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import { KeyExpiredError } from '../errors/key-expired-error.js';
import { KeyRevokedError } from '../errors/key-revoked-error.js';
import { UnknownVendorError } from '../errors/unknown-vendor-error.js';
import type { IssuedKey, IssueKeyOptions } from '../keys/issue-key-options.js';
import type { KeyRecord } from '../keys/key-record.js';
import { parseDuration } from '../keys/parse-duration.js';
import { generateVaultKey, redactVaultKeys, toKeyId } from '../keys/vault-key-format.js';
import { formatUsd, toOptionalMicroUsd } from '../money/micro-usd.js';
import { parseEndpointPattern, patternIsCoveredBy } from '../paths/endpoint-matcher.js';
import { assertChainUsable } from './load-key-chain.js';
import type { VaultContext } from './vault-context.js';

const DEFAULT_ROOT_TTL_MS = 3_600_000;
/**
 * Most keys in one chain: a key and 15 ancestors. Every call reserves against each key of its
 * chain, so a chain grown without bound (a loop issuing keys under its own last key) would make
 * every call of its deepest keys slower; real trees (session → team → member → vendor key) are
 * four or five deep.
 */
export const MAX_CHAIN_KEYS = 16;
/** How far past its parent's expiry a child's `expiresIn` is cut rather than refused. */
const CLOCK_SLACK_MS = 60_000;

/** The last instant a JavaScript `Date` can hold, epoch ms. */
const MAX_DATE_MS = 8.64e15;

/**
 * Validates a policy, checks that it narrows its parent's, and stores a new key. The parent may be
 * named by its vault key: only its id is used, and the vault key is never echoed.
 *
 * @throws {InvalidPolicyError | UnknownVendorError | KeyRevokedError | KeyExpiredError | StorageError}
 */
export async function issueKey(context: VaultContext, options: IssueKeyOptions): Promise<IssuedKey> {
  const now = context.now();
  const capMicros = toOptionalMicroUsd(options.capUsd);
  const dailyCapMicros = toOptionalMicroUsd(options.dailyCapUsd);
  const perCallMaxMicros = toOptionalMicroUsd(options.perCallMaxUsd);
  const fallbackEstimateMicros = toOptionalMicroUsd(options.fallbackEstimateUsd);
  if (options.maxCalls !== undefined && !(Number.isSafeInteger(options.maxCalls) && options.maxCalls >= 0)) {
    throw new InvalidPolicyError({ message: `maxCalls must be a whole number, got ${options.maxCalls}.` });
  }
  // `null` (a policy read from JSON or a NULL column) is not "omitted": it would allow every endpoint.
  if (options.allowedEndpoints !== undefined && !Array.isArray(options.allowedEndpoints)) {
    throw new InvalidPolicyError({
      message: 'allowedEndpoints must be an array of "METHOD /path" entries; omit it to allow every endpoint.',
    });
  }
  const patterns = options.allowedEndpoints?.map((entry) => parseEndpointPattern(entry));
  if (options.label !== undefined && (typeof options.label !== 'string' || options.label.length > 200)) {
    throw new InvalidPolicyError({ message: 'label must be a string of at most 200 characters.' });
  }
  if (options.metadata !== undefined) assertMetadata(options.metadata);

  let vendor = options.vendor;
  let parent: KeyRecord | undefined;
  let ancestors: KeyRecord[] = [];
  let allowedEndpoints = patterns?.map((pattern) => pattern.source);
  let expiresAt: number;

  if (options.parentId !== undefined) {
    const parentId = toKeyId(options.parentId);
    parent = await context.keyStore.get(parentId);
    if (!parent) throw new InvalidPolicyError({ message: `Parent key ${redactVaultKeys(parentId)} does not exist.` });
    // Found, the parent is named by its id: a vault key the caller named it by is never echoed.
    if (parent.mode !== context.mode) {
      // Two vaults of different modes may share a store: a live key's spend must never draw on a test budget.
      throw new InvalidPolicyError({
        message: `Parent key ${parentId} is a ${parent.mode} key, and this vault issues ${context.mode} keys.`,
      });
    }
    if (parent.ancestorIds.length + 2 > MAX_CHAIN_KEYS) {
      throw new InvalidPolicyError({
        message: `Cannot issue a key under ${parentId}: it already has ${parent.ancestorIds.length} ancestor(s), and a key chain holds at most ${MAX_CHAIN_KEYS} keys. Issue it higher up the tree.`,
      });
    }
    const above = await context.keyStore.getMany(parent.ancestorIds);
    // A key whose chain is broken is refused on every call: it must not be issued either.
    const missing = above.findIndex((record) => record === undefined);
    if (missing !== -1)
      throw new InvalidPolicyError({
        message: `Cannot issue a key under ${parentId}: its ancestor ${parent.ancestorIds[missing]} is missing from the key store.`,
      });
    ancestors = [parent, ...(above as KeyRecord[])];
    try {
      assertChainUsable(ancestors, now);
    } catch (error) {
      // Said of the parent asked for, not as the denial of a call (no call was made).
      const whose = (id: string) => (id === parentId ? 'it' : `its ancestor ${id}`);
      const message = (why: string) => `Cannot issue a key under ${parentId}: ${why}. Issue it under a live key.`;
      if (error instanceof KeyRevokedError)
        throw new KeyRevokedError({
          keyId: error.keyId,
          label: error.label,
          revokedKeyId: error.revokedKeyId,
          message: message(`${whose(error.revokedKeyId)} was revoked`),
        });
      if (error instanceof KeyExpiredError) {
        const why = `${whose(error.expiredKeyId)} expired at ${error.expiresAt}`;
        throw new KeyExpiredError({
          keyId: error.keyId,
          label: error.label,
          expiredKeyId: error.expiredKeyId,
          expiresAt: error.expiresAt,
          message: message(why),
        });
      }
      throw error;
    }
    if (parent.vendor !== undefined) {
      if (vendor !== undefined && vendor !== parent.vendor) {
        throw new InvalidPolicyError({
          message: `A child of a ${parent.vendor} key must also be for ${parent.vendor}, not ${vendor}.`,
        });
      }
      vendor = parent.vendor;
    }
    const remainingLife = parent.expiresAt - now;
    let lifeMs = options.expiresIn === undefined ? remainingLife : parseDuration(options.expiresIn);
    // Asked for the parent's own lifetime a moment after it was issued ('1h' under '1h'), a child
    // would outlive it by the milliseconds between the two: up to a minute over is cut, not refused.
    if (lifeMs > remainingLife && (options.expiresWithParent || lifeMs - remainingLife <= CLOCK_SLACK_MS))
      lifeMs = remainingLife;
    if (lifeMs > remainingLife) {
      throw new InvalidPolicyError({
        message: `A child key cannot outlive its parent: asked for ${Math.round(lifeMs / 1000)}s, the parent has ${Math.round(remainingLife / 1000)}s left. Ask for less, or set expiresWithParent to cut it to the parent's expiry.`,
      });
    }
    expiresAt = now + lifeMs;
    await assertNarrows(
      context,
      parent,
      { capMicros, dailyCapMicros, perCallMaxMicros, maxCalls: options.maxCalls },
      now,
    );
    // A fallback lets calls of unknown cost through; under a vendor key whose chain sets none (so
    // denies them), a child cannot allow them. (Where the chain sets one, the largest applies.)
    if (
      fallbackEstimateMicros !== undefined &&
      ancestors.every((ancestor) => ancestor.fallbackEstimateMicros === undefined) &&
      ancestors.some((ancestor) => ancestor.vendor !== undefined)
    ) {
      throw new InvalidPolicyError({
        message:
          'A child key cannot set fallbackEstimateUsd under a vendor key that denies calls of unknown cost (it sets none).',
      });
    }
    const parentPatterns = context.patterns(parent);
    if (parentPatterns) {
      if (!patterns) allowedEndpoints = parentPatterns.map((pattern) => pattern.source);
      else {
        const wider = patterns.find((pattern) => !patternIsCoveredBy(pattern, parentPatterns));
        if (wider) {
          throw new InvalidPolicyError({
            message: `Allowed endpoint "${wider.source}" is wider than the parent key's allow-list.`,
          });
        }
      }
    }
  } else {
    if (capMicros === undefined && dailyCapMicros === undefined) {
      throw new InvalidPolicyError({ message: 'A root key needs a cap: set capUsd and/or dailyCapUsd.' });
    }
    expiresAt = now + (options.expiresIn === undefined ? DEFAULT_ROOT_TTL_MS : parseDuration(options.expiresIn));
  }
  // Past what a Date can hold, the key could be stored but never shown.
  if (!Number.isSafeInteger(expiresAt) || expiresAt > MAX_DATE_MS) {
    throw new InvalidPolicyError({ message: 'expiresIn is too long: a key must expire before the year 275760.' });
  }

  if (vendor !== undefined && !context.vendors.has(vendor)) {
    throw new UnknownVendorError({
      message: `Unknown vendor "${vendor}". This vault fronts: ${[...context.vendors.keys()].join(', ')}.`,
    });
  }
  if (vendor === undefined && allowedEndpoints !== undefined && options.parentId === undefined) {
    throw new InvalidPolicyError({
      message: 'A budget-only key (no vendor) cannot have allowedEndpoints; set them on its members.',
    });
  }

  const generated = generateVaultKey(context.mode);
  const record: KeyRecord = {
    id: generated.keyId,
    hash: generated.hash,
    mode: context.mode,
    vendor,
    parentId: parent?.id,
    ancestorIds: ancestors.map((ancestor) => ancestor.id),
    rootId: ancestors.at(-1)?.id ?? generated.keyId,
    label: options.label,
    capMicros,
    dailyCapMicros,
    maxCalls: options.maxCalls,
    perCallMaxMicros,
    fallbackEstimateMicros,
    allowedEndpoints,
    expiresAt,
    createdAt: now,
    // A copy: the caller's object changing later must not change the key.
    metadata: structuredClone(options.metadata ?? {}),
  };
  await context.keyStore.create(record);
  return {
    id: record.id,
    vaultKey: generated.vaultKey,
    vendor,
    parentId: record.parentId,
    rootId: record.rootId,
    label: record.label,
    expiresAt: new Date(expiresAt).toISOString(),
  };
}

async function assertNarrows(
  context: VaultContext,
  parent: KeyRecord,
  child: {
    capMicros?: number | undefined;
    dailyCapMicros?: number | undefined;
    perCallMaxMicros?: number | undefined;
    maxCalls?: number | undefined;
  },
  now: number,
): Promise<void> {
  const balance = await context.ledger.balance(parent.id, now);
  if (child.capMicros !== undefined && parent.capMicros !== undefined) {
    const remaining = parent.capMicros - balance.spentMicros - balance.reservedMicros;
    if (child.capMicros > remaining) {
      throw new InvalidPolicyError({
        message: `A child's cap (${formatUsd(child.capMicros)}) cannot exceed what remains of its parent's (${formatUsd(Math.max(0, remaining))}).`,
      });
    }
  }
  if (
    child.dailyCapMicros !== undefined &&
    parent.dailyCapMicros !== undefined &&
    child.dailyCapMicros > parent.dailyCapMicros
  ) {
    throw new InvalidPolicyError({
      message: `A child's daily cap (${formatUsd(child.dailyCapMicros)}) cannot exceed its parent's (${formatUsd(parent.dailyCapMicros)}).`,
    });
  }
  if (
    child.perCallMaxMicros !== undefined &&
    parent.perCallMaxMicros !== undefined &&
    child.perCallMaxMicros > parent.perCallMaxMicros
  ) {
    throw new InvalidPolicyError({ message: "A child's per-call maximum cannot exceed its parent's." });
  }
  if (
    child.maxCalls !== undefined &&
    parent.maxCalls !== undefined &&
    child.maxCalls > parent.maxCalls - balance.calls
  ) {
    throw new InvalidPolicyError({ message: "A child's maxCalls cannot exceed its parent's remaining calls." });
  }
}

/** How deep metadata may nest, and how large it may be as JSON: a key must stay readable. */
const METADATA_MAX_DEPTH = 32;
const METADATA_MAX_BYTES = 16_384;

/**
 * Refuses metadata a key could be stored with but never shown again: nested past
 * {@link METADATA_MAX_DEPTH} (copying it would overflow the stack), over {@link METADATA_MAX_BYTES}
 * as JSON, not JSON at all, or with a `__proto__` key (lost in any copy).
 */
function assertMetadata(metadata: unknown): void {
  const fail = (why: string): never => {
    throw new InvalidPolicyError({ message: `metadata ${why}.` });
  };
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) fail('must be an object');
  // Walked without recursion, so no depth can overflow the stack here.
  const stack: Array<[unknown, number]> = [[metadata, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number];
    if (typeof value !== 'object' || value === null) continue;
    if (depth > METADATA_MAX_DEPTH) fail(`nests deeper than ${METADATA_MAX_DEPTH} levels`);
    if (Object.hasOwn(value, '__proto__')) fail('may not have a "__proto__" key');
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(metadata);
  } catch {
    fail('must be plain JSON (no cycles, no BigInt)');
  }
  if (json !== undefined && json.length > METADATA_MAX_BYTES) fail(`is over ${METADATA_MAX_BYTES} characters as JSON`);
}
