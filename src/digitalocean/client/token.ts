/**
 * The DigitalOcean API token: where the client gets it and how it is kept out of text.
 * The client takes a provider function rather than a string so that the vault can supply
 * (and rotate) the token later without the client changing; today it comes from the
 * `DIGITALOCEAN_TOKEN` environment variable.
 */
import { BerthError } from '../../domain/errors.ts';

/** Called before every request, so a rotated token takes effect at once. */
export type TokenProvider = () => Promise<string> | string;

/** A token provider reading `DIGITALOCEAN_TOKEN`; fails at once when it is not set. */
export function tokenFromEnv(env: Record<string, string | undefined>): TokenProvider {
  const token = env.DIGITALOCEAN_TOKEN?.trim();
  if (!token) throw new BerthError('internal', 'DIGITALOCEAN_TOKEN is not set');
  return () => token;
}

/** Removes the token from text that came from elsewhere (error bodies, socket errors). */
export function scrub(text: string, token: string): string {
  return token.length > 0 ? text.split(token).join('[redacted]') : text;
}
