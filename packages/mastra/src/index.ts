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
export type { MemberDenial } from './delegation/denial-log.js';
export { keybrakeDelegation } from './delegation/keybrake-delegation.js';
export { keybrakeNetworkInstructions } from './delegation/keybrake-network.js';
export { type MemberAgent, type MemberAsToolOptions, memberAsTool } from './delegation/member-as-tool.js';
export { type KeybrakeHooksOptions, keybrakeHooks } from './tools/keybrake-hooks.js';
export { type KeybrakeTool, type WithKeybrakeOptions, withKeybrake } from './tools/with-keybrake.js';
