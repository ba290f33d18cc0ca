/**
 * Where a running berth serves its metrics: on the internal listener, to a scrape with
 * the metrics token or the internal secret and to no one else, and not on the public
 * listener; with no internal listener, on the public listener behind the metrics token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EngineName, testEngines } from '../support/db.ts';
import { type LoggedBerth, startLoggedBerth } from './berth-flows.ts';

const get = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers });

describe.each(testEngines())(
  'GET /metrics of a running berth on %s',
  { timeout: 120_000 },
  (engine: EngineName) => {
    describe('with the internal listener', () => {
      let b: LoggedBerth;
      beforeAll(async () => {
        b = await startLoggedBerth(engine);
      }, 90_000);
      afterAll(() => b?.stop());

      it('serves the internal listener to the metrics token and to the internal secret, both ways', async () => {
        const url = `${b.berth.internalUrl}/metrics`;
        const ways: Record<string, string>[] = [
          { authorization: `Bearer ${b.metricsToken}` },
          { authorization: `Bearer ${b.internalSecret}` },
          { 'x-internal-api-secret': b.internalSecret },
        ];
        for (const headers of ways) {
          const res = await get(url, headers);
          expect(res.status).toBe(200);
          const text = await res.text();
          expect(text).toContain('berth_onboarding_users{status="ready"}');
          expect(text).toContain('berth_jobs{queue="onboard-user",state="failed"} 0');
          expect(text).toContain('berth_digitalocean_rate_budget_remaining{window="hour"}');
        }
        expect((await get(url)).status).toBe(401);
        expect((await get(url, { 'x-internal-api-secret': b.metricsToken })).status).toBe(401);
      });

      it('keeps the rest of the internal API behind the internal secret alone', async () => {
        const res = await get(`${b.berth.internalUrl}/internal/openapi.json`, {
          authorization: `Bearer ${b.metricsToken}`,
        });
        expect(res.status).toBe(401);
      });

      it('does not serve metrics on the public listener', async () => {
        const res = await get(`${b.berth.url}/metrics`, { authorization: `Bearer ${b.metricsToken}` });
        expect(await res.text()).not.toContain('berth_http_requests_total');
      });

      it('counts its own scrapes under the internal listener', async () => {
        const res = await get(`${b.berth.internalUrl}/metrics`, {
          authorization: `Bearer ${b.metricsToken}`,
        });
        expect(await res.text()).toMatch(
          /berth_http_requests_total\{listener="internal",method="GET",route="\/metrics",status="200"\} [1-9]/,
        );
      });
    });

    describe('without the internal listener', () => {
      let b: LoggedBerth;
      beforeAll(async () => {
        b = await startLoggedBerth(engine, { internal: false });
      }, 90_000);
      afterAll(() => b?.stop());

      it('serves the public listener, behind the metrics token only', async () => {
        expect(b.berth.internalUrl).toBeNull();
        const url = `${b.berth.url}/metrics`;
        const ok = await get(url, { authorization: `Bearer ${b.metricsToken}` });
        expect(ok.status).toBe(200);
        expect(await ok.text()).toContain('berth_info{version=');
        const refused = await get(url);
        expect(refused.status).toBe(401);
        expect(refused.headers.get('www-authenticate')).toContain('Bearer');
        expect(b.lines.some((l) => l.includes('"metrics":"http://127.0.0.1'))).toBe(true);
      });
    });
  },
);
