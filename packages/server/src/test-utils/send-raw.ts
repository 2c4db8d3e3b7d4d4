import { connect } from 'node:net';

/**
 * Writes raw bytes to a server on loopback and resolves with everything it answers until the
 * connection closes: for requests a `fetch` cannot send (pipelined, malformed, `Expect`).
 *
 * @param options - `halfClose`: end the sending side once the bytes are written (a TCP FIN), as
 * some clients do after their last request, and go on reading the answer.
 * @example
 * ```ts
 * const answer = await sendRaw(url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
 * ```
 */
export function sendRaw(url: string, bytes: string | Buffer, options: { halfClose?: boolean } = {}): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1', () =>
      options.halfClose ? socket.end(bytes) : socket.write(bytes),
    );
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('utf8');
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}
