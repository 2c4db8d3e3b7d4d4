export type { CliIo } from './cli/cli-io.js';
export { type RunCliOptions, runCli } from './cli/run-cli.js';
export {
  createProxyLogger,
  type ProxyLoggerOptions,
  REDACTED_LOG_PATHS,
  serializeErrorWithoutCredentials,
} from './logging/create-proxy-logger.js';
export {
  createProxyServer,
  type ListenOptions,
  type ProxyServer,
  type ProxyServerOptions,
} from './server/create-proxy-server.js';
export { VERSION } from './version.js';
export {
  type IssueKeyBody,
  type ParsedIssueKeyBody,
  type ParseIssueKeyBodyOptions,
  parseIssueKeyBody,
} from './wire/parse-issue-key-body.js';
export type { FieldErrors } from './wire/to-field-errors.js';
export type {
  WireAuditActor,
  WireAuditMemberTotals,
  WireAuditRecord,
  WireAuditResult,
  WireAuditTotals,
  WireCapStatus,
  WireError,
  WireIssuedKey,
  WireKeyStatus,
  WireRevoked,
} from './wire/wire-types.js';
