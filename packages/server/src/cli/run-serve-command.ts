import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { KeybrakeError, type Vault } from '@keybrake/core';
import type { Logger } from 'pino';
import { createServeVault } from '../config/create-serve-vault.js';
import { resolveServeConfig, type ServeConfig } from '../config/resolve-serve-config.js';
import { createProxyLogger } from '../logging/create-proxy-logger.js';
import { createProxyServer } from '../server/create-proxy-server.js';
import { type CliIo, EXIT } from './cli-io.js';
import { helpText } from './help-texts.js';
import { parseCommandArgs } from './parse-command-args.js';
import { usageError } from './usage-error.js';

const SERVE_OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  config: { type: 'string' },
  upstream: { type: 'string', multiple: true },
  fx: { type: 'string' },
  price: { type: 'string', multiple: true },
  'audit-file': { type: 'string' },
  'redis-url': { type: 'string' },
  'redis-prefix': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'upstream-timeout': { type: 'string' },
  'reservation-ttl': { type: 'string' },
  mode: { type: 'string' },
  'log-level': { type: 'string' },
  'public-metrics': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Options of {@link runServeCommand} beyond the CLI's. */
export interface ServeCommandOptions {
  /** The logger. @default createProxyLogger() at the configured level, on standard error */
  logger?: Logger | undefined;
}

/**
 * `keybrake serve`: resolves the config, creates the vault and the proxy, prints
 * `Keybrake proxy listening on <url>`, and runs until SIGTERM/SIGINT, then closes gracefully.
 *
 * @param args - The arguments after `serve`.
 * @param io - Output, environment, shutdown signal.
 * @returns The exit code: 0 after a graceful stop, 2 for a usage or configuration error, 1 if the
 *   server could not start.
 * @example
 * ```ts
 * process.exitCode = await runServeCommand(['--port', '0'], io);
 * ```
 */
export async function runServeCommand(args: string[], io: CliIo, options: ServeCommandOptions = {}): Promise<number> {
  const parsed = parseCommandArgs(args, SERVE_OPTIONS);
  if (!parsed.ok) return usageError(io, parsed.message, 'serve');
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(helpText('serve'));
    return EXIT.ok;
  }
  if (positionals.length > 0) return usageError(io, `unexpected argument "${positionals[0]}".`, 'serve');

  let file: unknown;
  if (values.config !== undefined) {
    try {
      file = JSON.parse(await readFile(values.config, 'utf8'));
    } catch (error) {
      const reason = error instanceof SyntaxError ? 'it is not valid JSON' : (error as Error).message;
      return usageError(io, `cannot read the config file ${values.config}: ${reason}.`, 'serve');
    }
  }
  let config: ServeConfig;
  try {
    config = resolveServeConfig({
      env: io.env,
      file,
      flags: {
        host: values.host,
        port: values.port,
        upstream: values.upstream,
        fx: values.fx,
        price: values.price,
        auditFile: values['audit-file'],
        redisUrl: values['redis-url'],
        redisPrefix: values['redis-prefix'],
        maxBodyBytes: values['max-body-bytes'],
        upstreamTimeout: values['upstream-timeout'],
        reservationTtl: values['reservation-ttl'],
        mode: values.mode,
        logLevel: values['log-level'],
        publicMetrics: values['public-metrics'],
      },
    });
  } catch (error) {
    if (!KeybrakeError.isInstance(error)) throw error;
    return usageError(io, error.message, 'serve');
  }

  const logger = options.logger ?? createProxyLogger({ level: config.logLevel });
  let vault: Vault;
  try {
    vault = await createServeVault(config, logger);
  } catch (error) {
    if (KeybrakeError.isInstance(error)) return usageError(io, error.message, 'serve');
    io.stderr(`keybrake: ${(error as Error).message}\n`);
    return EXIT.error;
  }
  const configured = Object.keys(config.secrets).filter((vendor) => config.secrets[vendor] !== undefined);
  if (configured.length === 0) {
    logger.warn({}, 'no vendor secrets are configured: every vendor call will be denied');
  }
  if (!isLoopback(config.host)) {
    logger.warn({ host: config.host }, 'listening beyond loopback: put TLS in front of the proxy');
  }
  let proxy: ReturnType<typeof createProxyServer>;
  try {
    proxy = createProxyServer({
      vault,
      adminToken: config.adminToken,
      maxBodyBytes: config.maxBodyBytes,
      logger,
      publicMetrics: config.publicMetrics,
    });
  } catch (error) {
    await vault.close();
    if (KeybrakeError.isInstance(error)) return usageError(io, error.message, 'serve');
    throw error;
  }
  let url: string;
  try {
    url = await proxy.listen({ host: config.host, port: config.port });
  } catch (error) {
    io.stderr(`keybrake: cannot listen on ${config.host}:${config.port}: ${(error as Error).message}\n`);
    await vault.close();
    return EXIT.error;
  }
  io.stdout(`Keybrake proxy listening on ${url}\n`);
  const signal = await (io.waitForShutdown ?? waitForSignal)();
  logger.info({ signal }, 'shutting down');
  try {
    await proxy.close();
  } catch (error) {
    // Storage errors name what was lost (audit records Redis could not take) and never a secret.
    io.stderr(`keybrake: stopped, but closing failed: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.error;
  }
  return EXIT.ok;
}

function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
      // A second signal while closing forces the exit.
      process.once(signal, () => process.exit(EXIT.error));
      resolve(signal);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
