/**
 * The cache of each user's deployment keys (their DigitalOcean key ids and fingerprints),
 * which makes a warm deploy's key step cost microseconds. Layer one is in memory
 * (`lru-cache`), per process; layer two, when REDIS_URL is set, is Redis, shared by all
 * processes so that one process's cold work warms the others. Invalidation reaches every
 * process through the key-change bus (key-invalidation.ts).
 */
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';

export interface CachedKeys {
  digitaloceanKeyIds: number[];
  /** MD5 fingerprints, as DigitalOcean names keys. */
  fingerprints: string[];
}

export interface KeyCache {
  get(userId: string): Promise<CachedKeys | undefined>;
  set(userId: string, keys: CachedKeys): Promise<void>;
  /** Must throw when it cannot drop the entry: a key delete then fails instead of lying. */
  delete(userId: string): Promise<void>;
}

export interface CacheObserver {
  hit(layer: 'memory' | 'redis'): void;
  miss(): void;
}

const noObserver: CacheObserver = { hit() {}, miss() {} };

export class MemoryKeyCache implements KeyCache {
  private readonly lru: LRUCache<string, CachedKeys>;

  constructor(options: { max?: number; ttlMs?: number } = {}) {
    // The clock is read on each lookup (ttlResolution 0) rather than cached behind a
    // timer re-armed every millisecond under load (key-list-cache.ts says why).
    this.lru = new LRUCache({
      max: options.max ?? 100_000,
      ttl: options.ttlMs ?? 10 * 60_000,
      ttlResolution: 0,
    });
  }

  async get(userId: string) {
    return this.lru.get(userId);
  }

  async set(userId: string, keys: CachedKeys) {
    this.lru.set(userId, keys);
  }

  async delete(userId: string) {
    this.lru.delete(userId);
  }
}

export class RedisKeyCache implements KeyCache {
  private readonly redis: Redis;
  private readonly ttlSeconds: number;

  constructor(redis: Redis, ttlSeconds = 600) {
    this.redis = redis;
    this.ttlSeconds = ttlSeconds;
  }

  private key(userId: string) {
    return `berth:deploy-keys:${userId}`;
  }

  async get(userId: string) {
    const text = await this.redis.get(this.key(userId));
    return text ? (JSON.parse(text) as CachedKeys) : undefined;
  }

  async set(userId: string, keys: CachedKeys) {
    await this.redis.set(this.key(userId), JSON.stringify(keys), 'EX', this.ttlSeconds);
  }

  async delete(userId: string) {
    await this.redis.del(this.key(userId));
  }
}

/** Memory first, then the shared layer; a shared-layer read failure is only a miss. */
export class TieredKeyCache implements KeyCache {
  private readonly memory: KeyCache;
  private readonly shared: KeyCache | null;
  private readonly observer: CacheObserver;
  private readonly onSharedError: (error: unknown) => void;

  constructor(
    memory: KeyCache,
    shared: KeyCache | null,
    observer: CacheObserver = noObserver,
    onSharedError: (error: unknown) => void = () => {},
  ) {
    this.memory = memory;
    this.shared = shared;
    this.observer = observer;
    this.onSharedError = onSharedError;
  }

  async get(userId: string) {
    const local = await this.memory.get(userId);
    if (local) {
      this.observer.hit('memory');
      return local;
    }
    if (this.shared) {
      const remote = await this.shared.get(userId).catch((error) => {
        this.onSharedError(error);
        return undefined;
      });
      if (remote) {
        this.observer.hit('redis');
        await this.memory.set(userId, remote);
        return remote;
      }
    }
    this.observer.miss();
    return undefined;
  }

  async set(userId: string, keys: CachedKeys) {
    await this.memory.set(userId, keys);
    await this.shared?.set(userId, keys).catch(this.onSharedError);
  }

  async delete(userId: string) {
    await this.memory.delete(userId);
    await this.shared?.delete(userId);
  }
}
