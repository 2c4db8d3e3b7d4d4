import type { KeyRecord } from '../keys/key-record.js';

/** A stored key record for store tests: a Stripe key under `parent`, if given, issued at `createdAt`. */
export const makeKeyRecord = (
  id: string,
  { parent, createdAt, lifeMs }: { parent?: KeyRecord | undefined; createdAt: number; lifeMs: number },
): KeyRecord => ({
  id,
  hash: `sha256-of-${id}`,
  mode: 'test',
  vendor: 'stripe',
  parentId: parent?.id,
  ancestorIds: parent ? [parent.id, ...parent.ancestorIds] : [],
  rootId: parent?.rootId ?? id,
  capMicros: 5_000_000,
  expiresAt: createdAt + lifeMs,
  createdAt,
  metadata: {},
});
