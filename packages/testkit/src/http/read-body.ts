import type { IncomingMessage } from 'node:http';

/**
 * Reads a whole request body as UTF-8.
 *
 * @param request - The incoming request.
 * @returns The body, `''` when empty.
 * @throws When the client aborts while sending.
 * @example
 * ```ts
 * const body = await readBody(request);
 * ```
 */
export async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  }
  return Buffer.concat(chunks).toString('utf8');
}
