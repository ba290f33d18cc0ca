/**
 * `/v2/droplets`: create (one `name` or a batch of `names`; 202 Accepted with the
 * droplet still `new` and `links.actions` pointing at its create action), list (with
 * `tag_name` and `name` filters and pagination), get, delete, and delete by tag. The
 * SSH keys named at creation are copied onto the droplet then and never again, as
 * with root's `authorized_keys` on a real droplet.
 */
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { planDropletCreate } from '../droplet-create.ts';
import {
  type EmulatorContext,
  type EmulatorEnv,
  noContent,
  notFound,
  paginate,
  readJsonObject,
  unprocessable,
} from '../http.ts';
import type { Lifecycle } from '../lifecycle.ts';
import type { DropletRecord, EmulatorState } from '../state.ts';
import { actionLink, dropletView } from '../views.ts';

export interface DropletRouteDeps {
  state: EmulatorState;
  lifecycle: Lifecycle;
  clock: () => number;
}

export function dropletRoutes({ state, lifecycle, clock }: DropletRouteDeps): Hono<EmulatorEnv> {
  const app = new Hono<EmulatorEnv>();

  app.get('/', (c) => {
    const tag = c.req.query('tag_name');
    const name = c.req.query('name');
    const gpusOnly = c.req.query('type') === 'gpus';
    const droplets = [...state.droplets.values()]
      .filter(
        (d) =>
          !gpusOnly && (tag === undefined || d.tags.includes(tag)) && (name === undefined || d.name === name),
      )
      .sort((a, b) => a.id - b.id);
    const page = paginate(c, droplets);
    return c.json({ droplets: page.items.map(dropletView), links: page.links, meta: page.meta });
  });

  app.post('/', async (c) => {
    const read = await readJsonObject(c);
    if ('response' in read) return read.response;
    const now = clock();
    const result = planDropletCreate(read.body, state, now);
    if ('error' in result) return unprocessable(c, result.error);
    const { plan } = result;
    const addresses = state.allocateAddresses(plan.names.length);
    if (!addresses)
      return unprocessable(c, 'The emulator has no free loopback address left for another droplet.');

    const created = plan.names.map((name, i) => {
      const droplet: DropletRecord = {
        id: state.newDropletId(),
        name,
        region: plan.region,
        size: plan.size,
        image: plan.image,
        tags: plan.tags,
        userData: plan.userData,
        ipv6: plan.ipv6,
        monitoring: plan.monitoring,
        vpcUuid: plan.vpcUuid ?? randomUUID(),
        status: 'new',
        createdAt: now,
        address: addresses[i]!,
        authorizedKeys: plan.keys.map((k) => k.public_key),
      };
      state.droplets.set(droplet.id, droplet);
      return { droplet, action: lifecycle.recordCreate(droplet) };
    });
    const base = new URL(c.req.url).origin;
    const links = { actions: created.map(({ action }) => actionLink(base, action)) };
    if (plan.batch)
      return c.json({ droplets: created.map(({ droplet }) => dropletView(droplet)), links }, 202);
    return c.json({ droplet: dropletView(created[0]!.droplet), links }, 202);
  });

  app.delete('/', async (c) => {
    const tag = c.req.query('tag_name');
    if (!tag) return unprocessable(c, 'tag_name is required to delete Droplets by tag.');
    const doomed = [...state.droplets.values()].filter((d) => d.tags.includes(tag));
    for (const droplet of doomed) await lifecycle.destroy(droplet);
    return noContent(c);
  });

  app.get('/:id', (c) => {
    const droplet = findDroplet(c, state);
    return droplet ? c.json({ droplet: dropletView(droplet) }) : notFound(c);
  });

  app.delete('/:id', async (c) => {
    const droplet = findDroplet(c, state);
    if (!droplet) return notFound(c);
    await lifecycle.destroy(droplet);
    return noContent(c);
  });

  return app;
}

export function findDroplet(c: EmulatorContext, state: EmulatorState): DropletRecord | undefined {
  const raw = c.req.param('id') ?? '';
  return /^\d+$/.test(raw) ? state.droplets.get(Number(raw)) : undefined;
}
