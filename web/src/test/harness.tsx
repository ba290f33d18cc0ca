/**
 * Component-test harness: the real API client over a fake network. `fakeBerth` answers
 * requests from a table of handlers keyed by "METHOD /path" (ids as `{id}`) and records
 * every request, so tests mock only the network boundary and assert on what was sent.
 */
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { render } from '@testing-library/react';
import type { ReactElement, ReactNode } from 'react';
import { type ApiClient, createApiClient } from '../api/client.ts';
import { ApiProvider } from '../api/context.tsx';

export interface Sent {
  method: string;
  path: string;
  authorization: string | null;
  body: unknown;
}

export type Handler = (request: { body: unknown; path: string }) => Response | Promise<Response>;

export const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

export const problem = (status: number, code: string, detail: string, errors?: unknown[]) =>
  new Response(
    JSON.stringify({
      type: `https://berth.dev/problems/${code}`,
      title: code,
      status,
      detail,
      code,
      request_id: 'req-1',
      ...(errors ? { errors } : {}),
    }),
    { status, headers: { 'content-type': 'application/problem+json' } },
  );

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

export function fakeBerth(handlers: Record<string, Handler>) {
  const sent: Sent[] = [];
  const fetch = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const text = request.method === 'GET' ? '' : await request.text();
    const body = text ? JSON.parse(text) : undefined;
    sent.push({
      method: request.method,
      path: url.pathname,
      authorization: request.headers.get('authorization'),
      body,
    });
    const handler = handlers[`${request.method} ${url.pathname.replace(UUID, '{id}')}`];
    if (!handler) return problem(404, 'not-found', `no fake for ${request.method} ${url.pathname}`);
    return handler({ body, path: url.pathname });
  };
  const calls = (method: string, path: string) => sent.filter((s) => s.method === method && s.path === path);
  return { fetch, sent, calls };
}

export function testClient(
  fetch: (request: Request) => Promise<Response>,
  options: { token?: string; onUnauthorized?: () => void } = {},
): ApiClient {
  return createApiClient({
    baseUrl: 'http://berth.test',
    getAccessToken: async () => options.token ?? 'test-token',
    fetch,
    ...(options.onUnauthorized ? { onUnauthorized: options.onUnauthorized } : {}),
  });
}

export function wrapperFor(client: ApiClient) {
  const queryClient = new QueryClient({
    defaultOptions: { queries: { retry: false }, mutations: { retry: false } },
  });
  // biome-ignore lint/correctness/noComponentHookFactories: each test's wrapper closes over that test's own clients, made once per test
  return function Wrapper({ children }: { children: ReactNode }) {
    return (
      <QueryClientProvider client={queryClient}>
        <ApiProvider client={client}>{children}</ApiProvider>
      </QueryClientProvider>
    );
  };
}

export function renderWithApi(ui: ReactElement, client: ApiClient) {
  return render(ui, { wrapper: wrapperFor(client) });
}

/** An SSH key as berth answers it, with the fields a test cares about overridden. */
export function keyFixture(overrides: Partial<Record<string, unknown>> = {}) {
  return {
    id: '11111111-1111-4111-8111-111111111111',
    name: 'default',
    algorithm: 'ed25519',
    source: 'generated' as const,
    public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl berth',
    fingerprint_sha256: 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s',
    fingerprint_md5: '3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa',
    digitalocean_key_id: 41000001,
    is_default: true,
    private_key_available: false,
    created_at: '2026-01-02T03:04:05.000Z',
    ...overrides,
  };
}
