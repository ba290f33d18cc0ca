import { describe, expect, it } from 'vitest';
import { createSpecValidator } from '../../src/digitalocean/spec/validator.ts';
import { doSpec } from '../support/do-spec.ts';

const auth = { authorization: 'Bearer abc' };

describe('the DigitalOcean spec validator', () => {
  it('refuses to exist without the description file rather than passing everything', () => {
    expect(() => createSpecValidator('/nonexistent/openapi.yaml')).toThrow(/not found/);
  });

  it('accepts a well-formed droplet create request', () => {
    const errors = doSpec().validateRequest({
      method: 'POST',
      path: '/v2/droplets',
      headers: auth,
      body: { name: 'web-1', region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64', ssh_keys: [1] },
    });
    expect(errors).toEqual([]);
  });

  it('flags a droplet name with characters DigitalOcean does not allow', () => {
    const errors = doSpec().validateRequest({
      method: 'POST',
      path: '/v2/droplets',
      headers: auth,
      body: { name: 'web_1', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' },
    });
    expect(errors.some((e) => e.location === 'request.body/name' && e.message.includes('pattern'))).toBe(
      true,
    );
  });

  it('flags a request without a bearer token', () => {
    const errors = doSpec().validateRequest({ method: 'GET', path: '/v2/droplets' });
    expect(errors).toEqual([
      { location: 'request.header.authorization', message: 'a bearer token is required' },
    ]);
  });

  it('flags a query parameter out of range and a missing required one', () => {
    expect(
      doSpec().validateRequest({
        method: 'GET',
        path: '/v2/droplets',
        headers: auth,
        query: { per_page: '500' },
      })[0]?.location,
    ).toBe('request.query.per_page');
    expect(doSpec().validateRequest({ method: 'DELETE', path: '/v2/droplets', headers: auth })).toEqual([
      { location: 'request.query.tag_name', message: 'is required' },
    ]);
  });

  it('accepts a key fingerprint where the path takes an id or fingerprint', () => {
    const path = '/v2/account/keys/3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa';
    expect(doSpec().validateRequest({ method: 'GET', path, headers: auth })).toEqual([]);
  });

  it('prefers the literal path over a template that would swallow it', () => {
    expect(doSpec().findOperation('POST', '/v2/droplets/actions')?.operationId).toBe(
      'dropletActions_post_byTag',
    );
    expect(doSpec().findOperation('POST', '/v2/droplets/42/actions')?.operationId).toBe(
      'dropletActions_post',
    );
  });

  it('flags a droplet answer that lacks required fields', () => {
    const errors = doSpec().validateResponse({
      method: 'GET',
      path: '/v2/droplets/42',
      status: 200,
      body: { droplet: { id: 42, name: 'web-1' } },
    });
    expect(errors.some((e) => e.message.includes("'status'"))).toBe(true);
  });

  it('checks error bodies and rate-limit header types', () => {
    const errors = doSpec().validateResponse({
      method: 'GET',
      path: '/v2/actions/1',
      status: 404,
      headers: { 'ratelimit-limit': 'lots' },
      body: { message: 'gone' },
    });
    expect(errors.map((e) => e.location).sort()).toEqual([
      'response.body',
      'response.header.ratelimit-limit',
    ]);
  });

  it('flags a body on an answer documented as empty', () => {
    const errors = doSpec().validateResponse({
      method: 'DELETE',
      path: '/v2/droplets/42',
      status: 204,
      body: { ok: true },
    });
    expect(errors).toEqual([
      { location: 'response.body', message: 'status 204 is documented without a body' },
    ]);
  });

  it('reports paths the description does not have', () => {
    expect(
      doSpec().validateRequest({ method: 'GET', path: '/v2/nothing-here', headers: auth })[0]?.message,
    ).toMatch(/no operation/);
  });
});
