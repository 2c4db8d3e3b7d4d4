import type { Vault } from '@keybrake/core';
import type { Logger } from 'pino';
import type { ProxyMetrics } from '../metrics/create-proxy-metrics.js';

/** What the request handlers of a proxy share. Internal. */
export interface ProxyContext {
  vault: Vault;
  logger: Logger;
  metrics: ProxyMetrics;
  maxBodyBytes: number;
  publicMetrics: boolean;
  isAdmin(authorization: string | undefined): boolean;
  isClosing(): boolean;
}
