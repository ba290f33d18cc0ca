/**
 * Actions: `POST /v2/droplets/{id}/actions` starts one (201 with the action, which
 * completes after `activeAfterMs`), `GET /v2/droplets/{id}/actions/{action_id}` and
 * `GET /v2/actions/{action_id}` report on it. A droplet with an action in progress
 * (including its own creation) refuses another, as DigitalOcean does.
 */
import { Hono } from 'hono';
import { type EmulatorEnv, notFound, readJsonObject, unprocessable } from '../http.ts';
import type { Lifecycle } from '../lifecycle.ts';
import type { EmulatorState } from '../state.ts';
import { actionView } from '../views.ts';
import { findDroplet } from './droplets.ts';

/** Mounted at `/v2/droplets/:id/actions`. */
export function dropletActionRoutes(state: EmulatorState, lifecycle: Lifecycle): Hono<EmulatorEnv> {
  const app = new Hono<EmulatorEnv>();

  app.post('/', async (c) => {
    const droplet = findDroplet(c, state);
    if (!droplet) return notFound(c);
    const read = await readJsonObject(c);
    if ('response' in read) return read.response;
    const { type, ...params } = read.body;
    if (typeof type !== 'string') return unprocessable(c, 'Action type is required.');
    const started = lifecycle.startAction(droplet, type, params);
    if ('error' in started) return unprocessable(c, started.error);
    return c.json({ action: actionView(started) }, 201);
  });

  app.get('/:actionId', (c) => {
    const droplet = findDroplet(c, state);
    const action = state.actions.get(Number(c.req.param('actionId')));
    if (!droplet || !action || action.resourceId !== droplet.id) return notFound(c);
    return c.json({ action: actionView(action) });
  });

  return app;
}

/** Mounted at `/v2/actions`. */
export function actionRoutes(state: EmulatorState): Hono<EmulatorEnv> {
  const app = new Hono<EmulatorEnv>();
  app.get('/:actionId', (c) => {
    const raw = c.req.param('actionId');
    const action = /^\d+$/.test(raw) ? state.actions.get(Number(raw)) : undefined;
    return action ? c.json({ action: actionView(action) }) : notFound(c);
  });
  return app;
}
