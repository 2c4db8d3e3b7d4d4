import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { startRecordingUpstream } from '../test-utils/start-recording-upstream.js';
import { createTwilioHttpClient } from './create-twilio-http-client.js';

describe('createTwilioHttpClient', () => {
  describe('when the base URL has a path', () => {
    it('should keep it in front of the Twilio path, as for a proxy mounted under a prefix', async () => {
      const upstream = await startRecordingUpstream(() => ({ body: { messages: [] } }));
      try {
        for (const baseUrl of [`${upstream.url}/keybrake`, `${upstream.url}/keybrake/`]) {
          const client = twilio('AC00000000000000000000000000000000', 'kb_test_placeholder', {
            httpClient: createTwilioHttpClient(twilio.RequestClient, { baseUrl }),
          });
          await client.messages.list({ limit: 1 });
        }
        expect(upstream.received.map((request) => request.url.split('?')[0])).toEqual([
          '/keybrake/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json',
          '/keybrake/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json',
        ]);
      } finally {
        await upstream.close();
      }
    });
  });
});
