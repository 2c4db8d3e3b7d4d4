export {
  CapExceededError,
  EndpointNotAllowedError,
  findKeybrakeError,
  formatDenialForModel,
  KeybrakeError,
  type KeybrakeErrorCode,
  KeyExpiredError,
  KeyRevokedError,
} from '@keybrake/core';
export {
  type MemberAsToolOptions,
  type MemberRunner,
  type MemberRunResult,
  type MemberTask,
  type MemberToolOutput,
  memberAsTool,
} from './agents/member-as-tool.js';
export { keybrakeModelMiddleware } from './models/keybrake-model-middleware.js';
export { type WithKeybrakeOptions, withKeybrake } from './tools/with-keybrake.js';
