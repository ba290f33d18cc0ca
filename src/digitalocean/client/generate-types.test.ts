import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SPEC, generateTypes, TYPES_FILE, trimSpec } from './generate-types.ts';

const spec = {
  openapi: '3.0.0',
  info: { title: 't', version: '1' },
  paths: {
    '/keep': {
      get: { responses: { '200': { $ref: '#/components/responses/ok' } }, 'x-codeSamples': [{ lang: 'sh' }] },
      post: { responses: { '200': { description: 'dropped' } } },
    },
    '/drop': { get: { responses: { '200': { $ref: '#/components/responses/other' } } } },
  },
  components: {
    responses: {
      ok: {
        description: 'ok',
        content: { 'application/json': { schema: { $ref: '#/components/schemas/a' } } },
      },
      other: { description: 'other' },
    },
    schemas: {
      a: { type: 'object', properties: { b: { $ref: '#/components/schemas/b' } } },
      b: { type: 'string' },
      unused: { type: 'string' },
    },
  },
};

describe('trimSpec', () => {
  it('keeps only the listed operations and the components they reach, without code samples', () => {
    const trimmed = trimSpec(spec, { '/keep': ['get'] }) as typeof spec;
    expect(Object.keys(trimmed.paths)).toEqual(['/keep']);
    expect(Object.keys(trimmed.paths['/keep'])).toEqual(['get']);
    expect(trimmed.paths['/keep'].get).not.toHaveProperty('x-codeSamples');
    expect(Object.keys(trimmed.components.schemas).sort()).toEqual(['a', 'b']);
    expect(Object.keys(trimmed.components.responses)).toEqual(['ok']);
  });

  it('fails loudly when an operation berth relies on is not in the spec', () => {
    expect(() => trimSpec(spec, { '/gone': ['get'] })).toThrow('path /gone is not in the spec');
    expect(() => trimSpec(spec, { '/keep': ['delete'] })).toThrow('DELETE /keep is not in the spec');
  });
});

describe('types.gen.ts', () => {
  it('is exactly what the generator makes from the spec berth ships', async () => {
    expect(existsSync(DEFAULT_SPEC)).toBe(true);
    expect(await generateTypes(DEFAULT_SPEC)).toBe(readFileSync(TYPES_FILE, 'utf8'));
  });
});
