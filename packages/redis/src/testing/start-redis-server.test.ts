import { createClient } from '@redis/client';
import { describe, expect, it } from 'vitest';
import { startRedisServer } from './start-redis-server.js';

describe('startRedisServer', () => {
  describe('when redis-server is installed', () => {
    it('should answer on a private loopback port and keep data across a restart only when persistent', async () => {
      const [plain, persistent] = await Promise.all([startRedisServer(), startRedisServer({ persistent: true })]);
      try {
        expect(plain.url).toBe(`redis://127.0.0.1:${plain.port}`);
        expect(plain.port).not.toBe(persistent.port);
        for (const server of [plain, persistent]) {
          const client = createClient({ url: server.url });
          await client.connect();
          await client.set('k', 'v');
          await client.close();
          await server.restart();
          const again = createClient({ url: server.url });
          await again.connect();
          expect(await again.get('k')).toBe(server === persistent ? 'v' : null);
          await again.close();
        }
      } finally {
        await Promise.all([plain.close(), persistent.close()]);
      }
    });

    it('should refuse connections once stopped', async () => {
      const server = await startRedisServer();
      await server.stop();
      const client = createClient({ url: server.url, socket: { reconnectStrategy: false } });
      client.on('error', () => {});
      await expect(client.connect()).rejects.toThrow(/ECONNREFUSED/);
      await server.close();
    });
  });

  describe('when redis-server is missing', () => {
    it('should fail with how to install it, never skip', async () => {
      const saved = process.env.CI;
      try {
        delete process.env.CI;
        await expect(startRedisServer({ command: 'redis-server-that-does-not-exist' })).rejects.toThrow(
          /not found on PATH\. Install Redis .*apt-get install redis-server/,
        );
        process.env.CI = 'true';
        await expect(startRedisServer({ command: 'redis-server-that-does-not-exist' })).rejects.toThrow(
          /not found on PATH in CI\. The CI image must install Redis .*apt-get install redis-server/,
        );
      } finally {
        if (saved === undefined) delete process.env.CI;
        else process.env.CI = saved;
      }
    });
  });
});
