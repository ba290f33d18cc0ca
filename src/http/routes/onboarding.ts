/**
 * `/api/onboarding`: where the caller's onboarding stands (their default SSH key being
 * generated and registered with DigitalOcean in the background), from the onboarding
 * service. Without one wired in, it answers 503 "not available yet".
 */
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { OnboardingService } from '../../services/contracts.ts';
import { NotAvailableYetError, validationHook } from '../problem.ts';
import { OnboardingSchema, problems, toOnboarding } from '../schemas.ts';
import type { AppEnv } from '../types.ts';

export type OnboardingStatusApi = Pick<OnboardingService, 'checkKeyGenerationStatus'>;

export function onboardingRoutes(deps: { onboarding?: OnboardingStatusApi | undefined }) {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.openapi(
    createRoute({
      method: 'get',
      path: '/onboarding',
      tags: ['Onboarding'],
      security: [{ bearerAuth: [] }],
      summary: 'Your onboarding status',
      description: '`pending`, `generating`, `registering`, `ready` or `failed` (with the reason).',
      responses: {
        200: { description: 'The status.', content: { 'application/json': { schema: OnboardingSchema } } },
        ...problems(401, 503),
      },
    }),
    async (c) => {
      if (!deps.onboarding) throw new NotAvailableYetError('Onboarding status');
      const status = await deps.onboarding.checkKeyGenerationStatus(c.get('user').id);
      return c.json(toOnboarding(status), 200);
    },
  );
  return app;
}
