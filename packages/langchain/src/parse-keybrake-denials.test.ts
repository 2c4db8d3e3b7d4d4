import { CapExceededError, EndpointNotAllowedError, formatDenialForModel } from '@keybrake/core';
import { AIMessage, HumanMessage, ToolMessage } from '@langchain/core/messages';
import { describe, expect, it } from 'vitest';
import { parseKeybrakeDenials } from './parse-keybrake-denials.js';

const cap = new CapExceededError({
  keyId: 'kbk_1',
  label: 'team/billing',
  limitingKeyId: 'kbk_1',
  limitingLabel: 'team/billing',
  cap: 'total',
  capUsd: 150,
  spentUsd: 150,
  reservedUsd: 0,
  attemptedUsd: 5,
});
const endpoint = new EndpointNotAllowedError({
  keyId: 'kbk_1',
  label: 'team/billing',
  method: 'POST',
  path: '/v1/refunds',
});

describe('parseKeybrakeDenials', () => {
  describe('when a transcript carries denials as tool errors and in message text', () => {
    it('should return them typed, in transcript order', () => {
      const messages = [
        new HumanMessage('Refund and charge.'),
        new ToolMessage({ content: formatDenialForModel(endpoint), tool_call_id: 'call_1', status: 'error' }),
        new AIMessage({ content: [{ type: 'text', text: `Stopped.\n\n${formatDenialForModel(cap)}` }] }),
      ];

      const denials = parseKeybrakeDenials(messages);

      expect(denials.map((denial) => denial.code)).toEqual(['KEYBRAKE_ENDPOINT_NOT_ALLOWED', 'KEYBRAKE_CAP_EXCEEDED']);
      expect(denials[1]).toBeInstanceOf(CapExceededError);
      expect(denials[1]?.toJSON()).toMatchObject({ label: 'team/billing', capUsd: 150, spentUsd: 150 });
    });
  });

  describe('when a message only looks like a denial', () => {
    it('should ignore it', () => {
      const messages = [
        new AIMessage('{"code":"KEYBRAKE_CAP_EXCEEDED", broken}'),
        new AIMessage('{"code":"OTHER_ERROR"}'),
        new AIMessage('The code KEYBRAKE_CAP_EXCEEDED means a cap was hit.'),
      ];

      expect(parseKeybrakeDenials(messages)).toEqual([]);
    });
  });
});
