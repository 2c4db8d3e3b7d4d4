import { describe, expect, it } from 'vitest';
import { BytesResponse } from './bytes-response.js';

const encoder = new TextEncoder();
const init = { status: 402, headers: { 'content-type': 'application/json', 'request-id': 'req_1' } };

/** What one use of a response gives: a value, or the kind of error it throws or rejects with. */
type Outcome = { value: unknown } | { error: string };
type Step = (response: Response) => unknown;

const settle = async (step: () => unknown): Promise<Outcome> => {
  try {
    const value = await step();
    if (value instanceof ArrayBuffer) return { value: [...new Uint8Array(value)] };
    if (value instanceof Uint8Array) return { value: ['bytes', ...value] };
    if (value instanceof Blob) return { value: ['blob', value.type, await value.text()] };
    if (value instanceof ReadableStream) return { value: ['stream', value.locked] };
    if (value instanceof Response) return { value: ['response', value.status, await value.text()] };
    return { value };
  } catch (error) {
    return { error: (error as Error).constructor.name };
  }
};

/** Runs the same steps on a standard `Response` and on a {@link BytesResponse} over the same bytes. */
const both = async (bytes: Uint8Array, steps: Step[]) => {
  const run = async (response: Response) => {
    const outcomes: Array<Outcome | boolean> = [];
    for (const step of steps) {
      outcomes.push(await settle(() => step(response)));
      outcomes.push(response.bodyUsed);
    }
    return outcomes;
  };
  return {
    standard: await run(new Response(bytes, init)),
    fast: await run(new BytesResponse(bytes, init) as unknown as Response),
  };
};

const reads: Record<string, Step> = {
  arrayBuffer: (response) => response.arrayBuffer(),
  bytes: (response) => response.bytes(),
  text: (response) => response.text(),
  json: (response) => response.json(),
  blob: (response) => response.blob(),
  body: (response) => response.body,
  readBody: async (response) => {
    const reader = response.body?.getReader();
    const chunks: number[] = [];
    for (;;) {
      const { done, value } = (await reader?.read()) ?? { done: true, value: undefined };
      if (done) return chunks;
      chunks.push(...value);
    }
  },
  clone: (response) => response.clone(),
};

const bodies: Record<string, Uint8Array> = {
  'a JSON error': encoder.encode('{"error":{"type":"card_error","message":"Your card was declined."}}'),
  'UTF-8 with a BOM and non-ASCII': encoder.encode('\uFEFF{"name":"Zoë ✓ 日本"}'),
  'invalid UTF-8': new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0xff, 0xfe, 0x7d]),
  'not JSON': encoder.encode('<html>502 Bad Gateway</html>'),
  empty: new Uint8Array(),
};

describe('BytesResponse', () => {
  describe('when read as a standard Response is read', () => {
    const names = Object.keys(reads);
    const sequences = names.flatMap((first) => names.map((second) => [first, second] as const));

    it.each(Object.entries(bodies))(
      'should behave exactly like one over %s, for every two uses in a row',
      async (_name, bytes) => {
        for (const [first, second] of sequences) {
          const { standard, fast } = await both(bytes, [reads[first] as Step, reads[second] as Step]);
          expect(fast, `${first} then ${second}`).toEqual(standard);
        }
      },
    );
  });

  describe('when an SDK reads it', () => {
    it('should be a Response with the status, headers and body given', async () => {
      const response = new BytesResponse(encoder.encode('{"id":"pi_1"}'), init) as unknown as Response;
      expect(response).toBeInstanceOf(Response);
      expect(Object.prototype.toString.call(response)).toBe('[object Response]');
      expect([response.status, response.ok, response.headers.get('request-id')]).toEqual([402, false, 'req_1']);
      expect(await response.json()).toEqual({ id: 'pi_1' });
      expect(response.bodyUsed).toBe(true);
      await expect(response.text()).rejects.toThrow('Body is unusable');
    });

    it('should clone with the headers it has now', async () => {
      const response = new BytesResponse(encoder.encode('{}'), init) as unknown as Response;
      response.headers.set('x-added', '1');
      const copy = response.clone();
      expect([copy.status, copy.headers.get('x-added'), copy.headers.get('request-id')]).toEqual([402, '1', 'req_1']);
      expect(await copy.json()).toEqual({});
      expect(await response.json()).toEqual({});
    });

    it('should hand out a copy of the bytes, never the bytes it holds', async () => {
      const bytes = encoder.encode('abc');
      const response = new BytesResponse(bytes, init) as unknown as Response;
      new Uint8Array(await response.arrayBuffer()).fill(0);
      expect(new TextDecoder().decode(bytes)).toBe('abc');
    });
  });
});
