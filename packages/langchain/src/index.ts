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
export { type KeybrakeMiddlewareOptions, keybrakeMiddleware } from './keybrake-middleware.js';
export type { MemberRef } from './member-name.js';
export { parseKeybrakeDenials } from './parse-keybrake-denials.js';
export { type DenialToolMessageOptions, toDenialToolMessage } from './to-denial-tool-message.js';
export { type WithKeybrakeOptions, withKeybrake } from './with-keybrake.js';
