/**
 * The bearer-token check in front of every user route: the token is verified (see
 * src/auth/jwt.ts) and the user it names is put on the request. With an external
 * identity provider the user is also registered with berth on their first request, since
 * berth may never have seen them sign up.
 */
import type { MiddlewareHandler } from 'hono';
import { AuthenticationError } from '../auth/errors.ts';
import type { TokenVerifier } from '../auth/jwt.ts';
import type { UserProvisioner } from '../auth/registration.ts';
import { requestHeader } from './node.ts';
import { classifyError, problemResponse } from './problem.ts';
import type { AppEnv } from './types.ts';

export interface AuthDeps {
  verifier: TokenVerifier;
  /** Registers users of an external identity provider on first sight. */
  provisionUser?: UserProvisioner | undefined;
}

export function bearerToken(header: string | undefined): string | null {
  const match = header ? /^Bearer[ ]+([A-Za-z0-9\-_.~+/]+=*)\s*$/i.exec(header) : null;
  return match?.[1] ?? null;
}

export function requireUser(deps: AuthDeps): MiddlewareHandler<AppEnv> {
  const check: MiddlewareHandler<AppEnv> = async (c, next) => {
    const token = bearerToken(requestHeader(c, 'authorization'));
    try {
      if (!token)
        throw new AuthenticationError('missing', 'Send an access token: Authorization: Bearer <token>.');
      const user = await deps.verifier.verify(token);
      await deps.provisionUser?.(user, c.get('requestId'));
      c.set('user', user);
    } catch (error) {
      const problem = classifyError(error);
      if (!(error instanceof AuthenticationError)) throw error;
      const challenge =
        error.reason === 'missing' ? 'Bearer realm="berth"' : 'Bearer realm="berth", error="invalid_token"';
      return problemResponse(c, problem.kind, problem.detail, {
        ...problem.options,
        headers: { 'www-authenticate': challenge },
      });
    }
    await next();
  };
  return (c, next) => {
    // A token seen before, of a user berth already knows, costs no promise: the common
    // case of every signed-in page after the first. A remembered token is a verified
    // JWT, base64url and dots only, so bearerToken's pattern would take it from
    // "Bearer <token>" as it is; it need not run over the whole token first.
    const header = requestHeader(c, 'authorization');
    const user =
      !deps.provisionUser && header?.startsWith('Bearer ')
        ? deps.verifier.known?.(header.slice(7))
        : undefined;
    if (!user) return check(c, next);
    c.set('user', user);
    return next();
  };
}
