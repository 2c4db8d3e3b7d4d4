// Two installed copies of @keybrake/core (an adapter that resolved its own): one actor scope.
import { describe, expect, it } from 'vitest';
import { CapExceededError } from '../errors/cap-exceeded-error.js';
import { currentActor, recordDenial, runWithActor, scopeDenials } from './actor-context.js';

describe('the actor scope', () => {
  it('should be shared by every loaded copy of the module', async () => {
    // A second instance of the module, as a second install would load.
    // @ts-expect-error: the query string makes Vite load a second instance; TypeScript knows no such module.
    const copy = (await import('./actor-context.js?copy')) as typeof import('./actor-context.js');
    expect(copy.runWithActor).not.toBe(runWithActor);
    const denial = new CapExceededError({
      keyId: 'kbk_1',
      limitingKeyId: 'kbk_1',
      cap: 'total',
      capUsd: 1,
      spentUsd: 1,
      reservedUsd: 0,
      attemptedUsd: 1,
    });
    const seen = await copy.runWithActor({ member: 'billing', tool: 'charge', toolCallId: 'call_1' }, async () => {
      recordDenial(denial); // the app's vault
      return { actor: currentActor(), denials: copy.scopeDenials() };
    });
    expect(seen.actor).toEqual({ member: 'billing', tool: 'charge', toolCallId: 'call_1' });
    expect(seen.denials).toEqual([denial]);
    expect(scopeDenials()).toEqual([]);
  });
});
