import { describe, expect, it } from 'vitest';
import type { UserSshKey } from '../store/ssh-keys.ts';
import { KeyListCache } from './key-list-cache.ts';

const USER = '8d0c7a43-6a39-4c1e-9a3f-0f0b7c1d2e3f';
const key = (name: string) => ({ id: name, name }) as unknown as UserSshKey;

/** A load whose answer the test releases when it chooses. */
function deferredLoad(answer: UserSshKey[]) {
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    load: async () => {
      await gate;
      return answer;
    },
    release: () => release(),
  };
}

describe('KeyListCache', () => {
  it('answers a second read from memory', async () => {
    const cache = new KeyListCache();
    let loads = 0;
    const load = async () => {
      loads++;
      return [key('a')];
    };
    expect(await cache.get(USER, load)).toEqual([key('a')]);
    expect(await cache.get(USER, load)).toEqual([key('a')]);
    expect(loads).toBe(1);
  });

  it('reads the database again after the user’s keys change', async () => {
    const cache = new KeyListCache();
    await cache.get(USER, async () => [key('a')]);
    cache.invalidate(USER);
    expect(await cache.get(USER, async () => [key('a'), key('b')])).toEqual([key('a'), key('b')]);
  });

  it('does not store a list read before a change that landed while it was read', async () => {
    const cache = new KeyListCache();
    const slow = deferredLoad([key('old')]);
    const reading = cache.get(USER, slow.load);
    cache.invalidate(USER);
    slow.release();
    expect(await reading).toEqual([key('old')]);
    expect(await cache.get(USER, async () => [key('new')])).toEqual([key('new')]);
  });

  it('keeps nothing while changes cannot be heard of, nor what was read before they could again', async () => {
    const cache = new KeyListCache();
    await cache.get(USER, async () => [key('a')]);
    cache.suspend();
    let loads = 0;
    const load = async () => {
      loads++;
      return [key('b')];
    };
    await cache.get(USER, load);
    await cache.get(USER, load);
    expect(loads).toBe(2);
    const during = deferredLoad([key('read during the outage')]);
    const reading = cache.get(USER, during.load);
    cache.resume();
    during.release();
    await reading;
    expect(await cache.get(USER, load)).toEqual([key('b')]);
    await cache.get(USER, load);
    expect(loads).toBe(3);
  });

  it('hands out the stored list itself, frozen, so no caller can change the cache', async () => {
    const cache = new KeyListCache();
    const loaded = await cache.get(USER, async () => [key('a')]);
    const hit = await cache.get(USER, async () => []);
    expect(hit).toBe(loaded);
    expect(Object.isFrozen(hit)).toBe(true);
    expect(() => (hit as UserSshKey[]).push(key('intruder'))).toThrow(TypeError);
  });

  it('forgets an entry once it is older than its time to live', async () => {
    const cache = new KeyListCache({ ttlMs: 1 });
    await cache.get(USER, async () => [key('a')]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await cache.get(USER, async () => [key('b')])).toEqual([key('b')]);
  });
});
