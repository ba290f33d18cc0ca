/**
 * Deploy tags: the unique tag every droplet berth creates carries, so that a create whose
 * outcome is unknown (timeout, dropped connection, 5xx after DigitalOcean accepted it) can
 * be settled by looking the tag up instead of posting again. DigitalOcean's create has no
 * idempotency key; this tag is berth's substitute for one.
 */
import { InvalidInputError } from '../../domain/errors.ts';

export const DEPLOY_TAG_PREFIX = 'berth-deploy:';

/** DigitalOcean's tag name rule (colons are allowed), from the API reference. */
const TAG_PATTERN = /^[a-zA-Z0-9_\-:]+$/;
const TAG_MAX_LENGTH = 255;
/** At least a UUID's worth of entropy is expected after the prefix; 16 characters is the floor. */
const DEPLOY_ID_PATTERN = /^[a-zA-Z0-9_-]{16,}$/;

export function isValidTag(tag: string): boolean {
  return tag.length <= TAG_MAX_LENGTH && TAG_PATTERN.test(tag);
}

/** Whether `tag` is a deploy tag as `deployTagFor` makes them. */
export function isDeployTag(tag: string): boolean {
  return (
    tag.startsWith(DEPLOY_TAG_PREFIX) &&
    isValidTag(tag) &&
    DEPLOY_ID_PATTERN.test(tag.slice(DEPLOY_TAG_PREFIX.length))
  );
}

/** Builds the deploy tag for a deploy id such as a UUID. */
export function deployTagFor(deployId: string): string {
  if (!DEPLOY_ID_PATTERN.test(deployId)) {
    throw new InvalidInputError('a deploy id must be at least 16 letters, digits, "-" or "_" (a UUID fits)');
  }
  return `${DEPLOY_TAG_PREFIX}${deployId}`;
}

/**
 * Returns the one deploy tag among `tags`, or throws: a create request without one could
 * not be told apart from other creates after a failure, and two would be ambiguous.
 */
export function requireDeployTag(tags: readonly string[] | null | undefined): string {
  const all = tags ?? [];
  const invalid = all.filter((t) => !isValidTag(t));
  if (invalid.length > 0) {
    throw new InvalidInputError(
      `droplet tags must match ${TAG_PATTERN} and be at most ${TAG_MAX_LENGTH} characters`,
      {
        invalid,
      },
    );
  }
  const deployTags = all.filter((t) => t.startsWith(DEPLOY_TAG_PREFIX));
  if (deployTags.length !== 1) {
    throw new InvalidInputError(
      `a droplet create needs exactly one "${DEPLOY_TAG_PREFIX}<id>" tag, so a failed create can be looked up before retrying`,
      { found: deployTags.length },
    );
  }
  const tag = deployTags[0]!;
  if (!DEPLOY_ID_PATTERN.test(tag.slice(DEPLOY_TAG_PREFIX.length))) {
    throw new InvalidInputError(
      'the deploy tag id must be at least 16 letters, digits, "-" or "_" (a UUID fits)',
    );
  }
  return tag;
}
