/**
 * The variables a request carries through berth's Hono applications: its id (from the
 * caller's `x-request-id` or generated) and, behind the bearer-token check, the user.
 */
import type { AuthUser } from '../auth/jwt.ts';

export interface AppEnv {
  Variables: {
    requestId: string;
    user: AuthUser;
  };
}
