import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../domain/errors.ts';
import { DEPLOY_TAG_PREFIX, deployTagFor, isValidTag, requireDeployTag } from './deploy-tag.ts';

const UUID = '0b6f1a52-8f07-4c1e-9a57-0d1c2f6a3b4c';

describe('deploy tags', () => {
  it('builds a tag DigitalOcean accepts from a UUID, colon included', () => {
    const tag = deployTagFor(UUID);
    expect(tag).toBe(`${DEPLOY_TAG_PREFIX}${UUID}`);
    expect(isValidTag(tag)).toBe(true);
  });

  it('refuses a deploy id too short to be unique', () => {
    expect(() => deployTagFor('42')).toThrow(InvalidInputError);
  });

  it('finds the one deploy tag among the others', () => {
    expect(requireDeployTag(['berth', 'env:prod', deployTagFor(UUID)])).toBe(deployTagFor(UUID));
  });

  it('refuses tags that are missing, doubled, or not valid DigitalOcean tag names', () => {
    expect(() => requireDeployTag(null)).toThrow(/exactly one/);
    expect(() => requireDeployTag([deployTagFor(UUID), deployTagFor(`${UUID}-2`)])).toThrow(/exactly one/);
    expect(() => requireDeployTag([deployTagFor(UUID), 'has space'])).toThrow(/must match/);
    expect(() => requireDeployTag([deployTagFor(UUID), 'x'.repeat(256)])).toThrow(/must match/);
    expect(() => requireDeployTag(['berth-deploy:short'])).toThrow(/at least 16/);
  });
});
