/**
 * How berth writes an email address down: trimmed and lower-cased, on every path that
 * stores or looks one up (the embedded sign-up and sign-in, the sign-in throttle, users
 * an external identity provider registers, the internal onboard route). One function, so
 * the table's unique constraint on the stored form is case-insensitive in effect and a
 * lookup finds what a registration wrote.
 */

export const normaliseEmail = (email: string): string => email.trim().toLowerCase();

/** The stored form of an email that may be absent: nothing, or only spaces, is no email. */
export function normaliseOptionalEmail(email: string | null | undefined): string | null {
  if (email === null || email === undefined) return null;
  return normaliseEmail(email) || null;
}
