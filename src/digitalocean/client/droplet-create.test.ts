import { afterEach, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../domain/errors.ts';
import { DigitalOceanRateLimitedError, DigitalOceanUnavailableError } from '../errors.ts';
import type { DropletCreateRequest } from './client.ts';
import { deployTagFor } from './deploy-tag.ts';
import { clientFor, fakeDroplet, type Stub, type StubReply, startStub } from './testing.ts';

let stub: Stub | undefined;
afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

type PostBehaviour =
  | 'ok'
  | 'accept-then-500'
  | 'accept-then-drop'
  | 'accept-then-hang'
  | '500'
  | '429'
  | 'drop';

/** A droplet API that creates on POST and lists by tag, with a scripted behaviour per POST. */
async function dropletApi(behaviours: PostBehaviour[]) {
  const droplets: Record<string, unknown>[] = [];
  let posts = 0;
  const s = await startStub((call): StubReply => {
    if (call.method === 'GET') {
      const tag = call.query.get('tag_name')!;
      return {
        status: 200,
        body: {
          droplets: droplets.filter((d) => (d.tags as string[]).includes(tag)),
          links: {},
          meta: { total: 0 },
        },
      };
    }
    const behaviour = behaviours[Math.min(posts++, behaviours.length - 1)]!;
    const body = call.body as DropletCreateRequest;
    const make = () => {
      const droplet = fakeDroplet(1000 + droplets.length, body.tags ?? [], body.name);
      droplets.push(droplet);
      return droplet;
    };
    switch (behaviour) {
      case 'ok':
        return {
          status: 202,
          body: { droplet: make(), links: { actions: [{ id: 77, rel: 'create', href: 'x' }] } },
        };
      case 'accept-then-500':
        make();
        return {
          status: 500,
          body: { id: 'server_error', message: 'Server was unable to give you a response.' },
        };
      case 'accept-then-drop':
        make();
        return { drop: true };
      case 'accept-then-hang':
        make();
        return { hang: true };
      case '500':
        return { status: 500, body: { id: 'server_error', message: 'x' } };
      case '429':
        return {
          status: 429,
          body: { id: 'too_many_requests', message: 'x' },
          headers: { 'retry-after': '0' },
        };
      case 'drop':
        return { drop: true };
    }
  });
  return { stub: s, droplets, posts: () => s.calls.filter((c) => c.method === 'POST').length };
}

const tag = deployTagFor('0b6f1a52-8f07-4c1e-9a57-0d1c2f6a3b4c');
const request: DropletCreateRequest = {
  name: 'env-1',
  region: 'nyc3',
  size: 's-1vcpu-1gb',
  image: 'ubuntu-24-04-x64',
  tags: ['berth', tag],
};

describe('createDroplet', () => {
  it('refuses a request without a deploy tag before sending anything', async () => {
    const api = await dropletApi(['ok']);
    stub = api.stub;
    await expect(clientFor(stub.url).createDroplet({ ...request, tags: ['berth'] })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    await expect(
      clientFor(stub.url).createDroplet({ ...request, tags: [tag, 'bad tag'] }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(stub.calls).toHaveLength(0);
  });

  it('creates once and returns the droplet and its create action', async () => {
    const api = await dropletApi(['ok']);
    stub = api.stub;
    const result = await clientFor(stub.url).createDroplet(request);
    expect(result).toMatchObject({ adopted: false, actionIds: [77] });
    expect(result.droplet.tags).toContain(tag);
    expect(api.posts()).toBe(1);
  });

  it('sends only the POST for a deploy tag never used before, and still adopts after a lost answer', async () => {
    const fresh = await dropletApi(['ok']);
    stub = fresh.stub;
    await clientFor(stub.url).createDroplet(request, { freshTag: true });
    expect(stub.calls.map((c) => c.method)).toEqual(['POST']);
    await stub.close();
    const lost = await dropletApi(['accept-then-drop', 'ok']);
    stub = lost.stub;
    const result = await clientFor(stub.url).createDroplet(request, { freshTag: true });
    expect(result.adopted).toBe(true);
    expect(lost.droplets).toHaveLength(1);
  });

  it.each(['accept-then-500', 'accept-then-drop', 'accept-then-hang'] as const)(
    'adopts the droplet when a create was accepted but answered %s, without posting again',
    async (behaviour) => {
      const api = await dropletApi([behaviour, 'ok']);
      stub = api.stub;
      const result = await clientFor(
        stub.url,
        3,
        behaviour === 'accept-then-hang' ? 400 : 2000,
      ).createDroplet(request);
      expect(result.adopted).toBe(true);
      expect(api.droplets).toHaveLength(1);
      expect(api.posts()).toBe(1);
      expect(result.droplet.id).toBe(api.droplets[0]!.id);
    },
  );

  it('posts again only after the lookup finds nothing', async () => {
    const api = await dropletApi(['500', 'drop', 'ok']);
    stub = api.stub;
    const result = await clientFor(stub.url).createDroplet(request);
    expect(result.adopted).toBe(false);
    expect(api.droplets).toHaveLength(1);
    // lookup, POST (500), lookup, POST (dropped), lookup, POST (ok)
    expect(stub.calls.map((c) => c.method)).toEqual(['GET', 'POST', 'GET', 'POST', 'GET', 'POST']);
  });

  it('after a 429 posts again without a lookup, because a 429 created nothing', async () => {
    const api = await dropletApi(['429', 'ok']);
    stub = api.stub;
    await clientFor(stub.url).createDroplet(request);
    expect(stub.calls.map((c) => c.method)).toEqual(['GET', 'POST', 'POST']);
  });

  it('adopts the droplet an earlier run created instead of posting', async () => {
    const api = await dropletApi(['ok']);
    stub = api.stub;
    const first = await clientFor(stub.url).createDroplet(request);
    const again = await clientFor(stub.url).createDroplet(request);
    expect(again).toMatchObject({ adopted: true, droplet: { id: first.droplet.id } });
    expect(api.posts()).toBe(1);
  });

  it('gives up after the bounded number of posts with the typed error and no duplicate', async () => {
    const api = await dropletApi(['500']);
    stub = api.stub;
    const error = await clientFor(stub.url, 3)
      .createDroplet(request)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigitalOceanUnavailableError);
    expect(api.posts()).toBe(3);
    // One lookup before the first post and one after each failed post.
    expect(stub.calls.filter((c) => c.method === 'GET')).toHaveLength(4);
  });

  it('stops without posting again when the lookup after an unclear failure cannot be made', async () => {
    let gets = 0;
    stub = await startStub((call) => {
      if (call.method === 'POST') return { status: 500, body: { id: 'server_error', message: 'x' } };
      return gets++ === 0
        ? { status: 200, body: { droplets: [], links: {}, meta: { total: 0 } } }
        : { status: 401, body: { id: 'unauthorized', message: 'Unable to authenticate you.' } };
    });
    await expect(clientFor(stub.url).createDroplet(request)).rejects.toMatchObject({ code: 'unauthorized' });
    expect(stub.calls.map((c) => c.method)).toEqual(['GET', 'POST', 'GET']);
  });

  it('gives up on persistent 429s with a rate_limited error after the bounded posts', async () => {
    const api = await dropletApi(['429']);
    stub = api.stub;
    await expect(clientFor(stub.url, 2).createDroplet(request)).rejects.toBeInstanceOf(
      DigitalOceanRateLimitedError,
    );
    expect(api.posts()).toBe(2);
  });
});
