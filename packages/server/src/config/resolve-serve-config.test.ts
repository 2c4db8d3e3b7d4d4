import { describe, expect, it } from 'vitest';
import { resolveServeConfig } from './resolve-serve-config.js';

const env = { KEYBRAKE_ADMIN_TOKEN: 'admin-token-0123456789' };

describe('resolveServeConfig', () => {
  describe('when KEYBRAKE_ADMIN_TOKEN is missing or short', () => {
    it('should refuse to start with a message that says what to do', () => {
      expect(() => resolveServeConfig({ flags: {}, env: {} })).toThrow(
        /KEYBRAKE_ADMIN_TOKEN is not set: the proxy refuses to start without an admin token\. Generate one/,
      );
      expect(() => resolveServeConfig({ flags: {}, env: { KEYBRAKE_ADMIN_TOKEN: 'short' } })).toThrow(/16 characters/);
    });
  });

  describe('when nothing else is set', () => {
    it('should bind to loopback on 8787 with the documented defaults', () => {
      expect(resolveServeConfig({ flags: {}, env })).toEqual({
        host: '127.0.0.1',
        port: 8787,
        adminToken: env.KEYBRAKE_ADMIN_TOKEN,
        secrets: {},
        upstreams: {},
        fx: {},
        prices: {},
        auditFile: undefined,
        redisUrl: undefined,
        redisPrefix: 'keybrake:test:',
        maxBodyBytes: 1_048_576,
        upstreamTimeout: '60s',
        reservationTtl: undefined,
        mode: 'test',
        logLevel: 'info',
        publicMetrics: false,
      });
    });
  });

  describe('when flags, the environment and the config file disagree', () => {
    it('should take flags over the environment over the file', () => {
      const config = resolveServeConfig({
        flags: { port: '0', fx: 'jpy=0.0067', upstream: ['stripe=http://127.0.0.1:1'], reservationTtl: '5m' },
        env: {
          ...env,
          KEYBRAKE_PORT: '9000',
          KEYBRAKE_HOST: '127.0.0.2',
          KEYBRAKE_FX: 'eur=1.08',
          STRIPE_SECRET_KEY: 'sk_test_env',
        },
        file: {
          host: '0.0.0.0',
          port: 9100,
          fx: { gbp: '1.27' },
          secrets: { stripe: 'sk_test_file', resend: 're_file' },
          upstreams: { stripe: 'http://127.0.0.1:2', twilio: 'http://127.0.0.1:3' },
          auditFile: 'audit.jsonl',
          reservationTtl: '20m',
          upstreamTimeout: '30s',
        },
      });
      expect(config).toMatchObject({
        port: 0,
        host: '127.0.0.2',
        fx: { jpy: '0.0067' },
        secrets: { stripe: 'sk_test_env', resend: 're_file' },
        upstreams: { stripe: 'http://127.0.0.1:1', twilio: 'http://127.0.0.1:3' },
        auditFile: 'audit.jsonl',
        reservationTtl: '5m',
        upstreamTimeout: '30s',
      });
    });

    it('should take an empty variable as unset, so it never overrides the file, and refuse an empty flag', () => {
      const file = {
        host: '127.0.0.3',
        port: 9100,
        mode: 'live',
        logLevel: 'warn',
        fx: { gbp: '1.27' },
        auditFile: 'audit.jsonl',
        redisUrl: 'redis://127.0.0.1:6390',
        redisPrefix: 'kb:',
      };
      const empty = Object.fromEntries(
        ['HOST', 'PORT', 'MODE', 'LOG_LEVEL', 'FX', 'AUDIT_FILE', 'REDIS_URL', 'REDIS_PREFIX'].map((name) => [
          `KEYBRAKE_${name}`,
          '',
        ]),
      );
      expect(resolveServeConfig({ flags: {}, env: { ...env, ...empty }, file })).toMatchObject({
        ...file,
        fx: { gbp: '1.27' },
      });
      // Without the file an empty host still means loopback, not every interface.
      expect(resolveServeConfig({ flags: {}, env: { ...env, KEYBRAKE_HOST: '' } }).host).toBe('127.0.0.1');
      for (const flag of ['host', 'auditFile', 'redisUrl', 'fx'] as const) {
        expect(() => resolveServeConfig({ flags: { [flag]: ' ' }, env, file })).toThrow(/must not be empty/);
      }
      expect(() => resolveServeConfig({ flags: { fx: ',' }, env, file })).toThrow(
        /--fx \(or KEYBRAKE_FX\) names no rate/,
      );
      expect(() => resolveServeConfig({ flags: {}, env: { ...env, KEYBRAKE_FX: ' , ' }, file })).toThrow(
        /names no rate/,
      );
      // Blank counts as empty: an empty FX table would deny every charge not in dollars.
      expect(resolveServeConfig({ flags: {}, env: { ...env, KEYBRAKE_FX: ' ' }, file }).fx).toEqual({ gbp: '1.27' });
    });
  });

  describe('when Twilio credentials come from the environment', () => {
    it('should accept an auth token or an API key pair, and refuse half a pair', () => {
      const sid = `AC${'1'.repeat(32)}`;
      expect(
        resolveServeConfig({ flags: {}, env: { ...env, TWILIO_ACCOUNT_SID: sid, TWILIO_AUTH_TOKEN: 't' } }).secrets,
      ).toEqual({
        twilio: { accountSid: sid, authToken: 't' },
      });
      const apiKey = { TWILIO_ACCOUNT_SID: sid, TWILIO_API_KEY_SID: `SK${'2'.repeat(32)}`, TWILIO_API_KEY_SECRET: 's' };
      expect(resolveServeConfig({ flags: {}, env: { ...env, ...apiKey } }).secrets.twilio).toEqual({
        accountSid: sid,
        apiKeySid: apiKey.TWILIO_API_KEY_SID,
        apiKeySecret: 's',
      });
      expect(() => resolveServeConfig({ flags: {}, env: { ...env, TWILIO_ACCOUNT_SID: sid } })).toThrow(
        /TWILIO_AUTH_TOKEN/,
      );
      expect(() => resolveServeConfig({ flags: {}, env: { ...env, TWILIO_AUTH_TOKEN: 't' } })).toThrow(
        /TWILIO_ACCOUNT_SID/,
      );
      // An API key secret alone is not ignored: the proxy would start without the Twilio it was given.
      expect(() => resolveServeConfig({ flags: {}, env: { ...env, TWILIO_API_KEY_SECRET: 's' } })).toThrow(
        'Twilio credentials need TWILIO_ACCOUNT_SID too.',
      );
    });
  });

  describe('when prices come from the file and from --price flags', () => {
    it('should merge them, flags last, with the text of each flag read as its option needs', () => {
      const config = resolveServeConfig({
        env,
        file: { prices: { twilio: { smsSegmentUsd: '0.0079', mmsUsd: 0.02 }, resend: { perEmailUsd: '0.001' } } },
        flags: {
          price: [
            'twilio.smsSegmentUsd=0.0083',
            'twilio.smsSegmentUsdByPrefix.+44=0.0524',
            'twilio.defaultCallMinutes=5',
            'stripe.creditRefunds=true',
            'stripe.prices.price_1.unitAmount=2000',
            'stripe.prices.price_1.currency=usd',
            'stripe.zeroCostEndpoints=POST /v1/webhook_endpoints, DELETE /v1/webhook_endpoints/*',
          ],
        },
      });
      expect(config.prices).toEqual({
        twilio: {
          smsSegmentUsd: '0.0083',
          smsSegmentUsdByPrefix: { '+44': '0.0524' },
          mmsUsd: 0.02,
          defaultCallMinutes: 5,
        },
        resend: { perEmailUsd: '0.001' },
        stripe: {
          creditRefunds: true,
          prices: { price_1: { unitAmount: 2000, currency: 'usd' } },
          zeroCostEndpoints: ['POST /v1/webhook_endpoints', 'DELETE /v1/webhook_endpoints/*'],
        },
      });
    });

    it('should refuse a misspelt option, a flag without an option and a prototype key', () => {
      expect(() => resolveServeConfig({ env, flags: { price: ['twilio.smsSegmentUSD=1'] } })).toThrow(
        /Invalid prices: twilio\.smsSegmentUSD is not a known field/,
      );
      expect(() => resolveServeConfig({ env, flags: { price: ['twilio=1'] } })).toThrow(
        /expected vendor\.option=value/,
      );
      expect(() => resolveServeConfig({ env, flags: { price: ['__proto__.polluted=1'] } })).toThrow(/--price/);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    });
  });

  describe('when a flag or the config file is malformed', () => {
    it('should name what is wrong', () => {
      expect(() => resolveServeConfig({ env, flags: { port: 'eighty' } })).toThrow(/--port must be a whole number/);
      // A port from the environment is named as the variable the user set.
      expect(() => resolveServeConfig({ env: { ...env, KEYBRAKE_PORT: 'eighty' }, flags: {} })).toThrow(
        /^KEYBRAKE_PORT must be a whole number/,
      );
      expect(() => resolveServeConfig({ env: { ...env, KEYBRAKE_PORT: '70000' }, flags: {} })).toThrow(
        'KEYBRAKE_PORT must be 0–65535, got 70000.',
      );
      expect(() => resolveServeConfig({ env, flags: { upstream: ['stripe'] } })).toThrow(/Invalid --upstream "stripe"/);
      expect(() => resolveServeConfig({ env, flags: { fx: 'yen' } })).toThrow(/Invalid FX entry "yen"/);
      expect(() => resolveServeConfig({ env, flags: { mode: 'prod' } })).toThrow(/--mode must be test or live/);
      expect(() => resolveServeConfig({ env, flags: {}, file: { prot: 1, upstreams: { stripe: 'ftp://x' } } })).toThrow(
        /Invalid config file: .*prot is not a known field/,
      );
      expect(() => resolveServeConfig({ env, flags: {}, file: { upstreams: { stripe: 'ftp://x' } } })).toThrow(
        /upstreams\.stripe/,
      );
    });
  });
});
