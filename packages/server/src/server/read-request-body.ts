import type { IncomingMessage } from 'node:http';

/** A request body read by {@link readRequestBody}: complete, or over the limit (and not read further). */
export type RequestBody =
  | { kind: 'complete'; bytes: Uint8Array }
  /** `declaredBytes`: the size its `Content-Length` gave, if it gave one past the limit. */
  | { kind: 'too-large'; declaredBytes?: number };

/**
 * Reads a request body into memory up to `maxBytes`. A body declared (`Content-Length`) or found
 * to be larger is not read any further: the stream is paused and `too-large` is returned, so the
 * caller can answer 413 and close the connection. Memory use is bounded by `maxBytes` plus one chunk.
 *
 * @param request - The incoming request.
 * @param maxBytes - The largest body accepted.
 * @returns The body, or `too-large`.
 * @throws {Error} if the client aborts while sending.
 * @example
 * ```ts
 * const body = await readRequestBody(request, 1_048_576);
 * if (body.kind === 'too-large') return answer413();
 * ```
 */
export function readRequestBody(request: IncomingMessage, maxBytes: number): Promise<RequestBody> {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    request.pause();
    return Promise.resolve({ kind: 'too-large', declaredBytes: Number.isSafeInteger(declared) ? declared : undefined });
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > maxBytes) {
        cleanup();
        request.pause();
        resolve({ kind: 'too-large' });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve({ kind: 'complete', bytes: Buffer.concat(chunks, size) });
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      if (request.complete) return;
      cleanup();
      reject(new Error('The client closed the connection before sending the whole body.'));
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('close', onClose);
  });
}
