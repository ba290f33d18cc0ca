/**
 * The deployment key cache's Redis layer, against the real Redis server: a process with
 * an empty memory finds what another process cached, a key change drops the entry
 * everywhere, and when Redis cannot drop it the change fails instead of leaving a stale
 * entry behind.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryKeyCache, RedisKeyCache, TieredKeyCache } from '../../src/services/key-cache.ts';

const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('the tiered key cache with Redis', () => {
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    await redis.ping();
  });
  afterAll(() => redis.quit());

  const keys = { digitaloceanKeyIds: [101, 102], fingerprints: ['aa:bb', 'cc:dd'] };

  it('serves another process’s entry from Redis and keeps it in memory', async () => {
    const hits: string[] = [];
    const observer = { hit: (layer: string) => hits.push(layer), miss: () => hits.push('miss') };
    const writer = new TieredKeyCache(new MemoryKeyCache(), new RedisKeyCache(redis));
    const reader = new TieredKeyCache(new MemoryKeyCache(), new RedisKeyCache(redis), observer);
    const userId = randomUUID();
    expect(await reader.get(userId)).toBeUndefined();
    await writer.set(userId, keys);
    expect(await reader.get(userId)).toEqual(keys);
    expect(await reader.get(userId)).toEqual(keys);
    expect(hits).toEqual(['miss', 'redis', 'memory']);
  });

  it('drops the entry from both layers', async () => {
    const cache = new TieredKeyCache(new MemoryKeyCache(), new RedisKeyCache(redis));
    const userId = randomUUID();
    await cache.set(userId, keys);
    await cache.delete(userId);
    expect(await cache.get(userId)).toBeUndefined();
    expect(await redis.get(`berth:deploy-keys:${userId}`)).toBeNull();
  });

  it('fails a delete when Redis is unreachable, and treats a failed read as a miss', async () => {
    const down = new Redis('redis://127.0.0.1:1', {
      maxRetriesPerRequest: 0,
      lazyConnect: true,
      retryStrategy: () => null,
    });
    down.on('error', () => {});
    const errors: unknown[] = [];
    const cache = new TieredKeyCache(new MemoryKeyCache(), new RedisKeyCache(down), undefined, (e) =>
      errors.push(e),
    );
    const userId = randomUUID();
    expect(await cache.get(userId)).toBeUndefined();
    expect(errors.length).toBeGreaterThan(0);
    await expect(cache.delete(userId)).rejects.toThrow();
    down.disconnect();
  });
});
