import type { CliIo } from '../cli/cli-io.js';

/**
 * A `CliIo` that keeps what a command prints, with the given environment; `stop()` delivers a
 * signal to a `serve` waiting for shutdown.
 */
export function captureIo(env: Record<string, string> = {}) {
  const out = { stdout: '', stderr: '' };
  let stop: (signal: string) => void = () => {};
  const io: CliIo = {
    stdout: (text) => {
      out.stdout += text;
    },
    stderr: (text) => {
      out.stderr += text;
    },
    env,
    waitForShutdown: () => new Promise((resolve) => (stop = resolve)),
  };
  return { io, out, stop: (signal = 'SIGTERM') => stop(signal) };
}
