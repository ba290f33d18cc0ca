/**
 * The web UI's API types are generated from berth's own OpenAPI document and committed.
 * A route that changes without `npm run gen:api` would leave the UI compiling against a
 * stale shape, so this test regenerates the types in memory and compares.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildOpenApiDocument, renderApiTypes, SCHEMA_FILE } from '../../web/scripts/openapi-document.ts';

describe("the web UI's generated API types", () => {
  it('match what the current routes generate (run `npm run gen:api` if not)', async () => {
    const document = await buildOpenApiDocument();
    const fresh = await renderApiTypes(document);
    const committed = readFileSync(SCHEMA_FILE, 'utf8');
    expect(committed === fresh, 'web/src/api/schema.gen.ts is stale: run `npm run gen:api`').toBe(true);
  });

  it('describe the routes the web UI calls', async () => {
    const committed = readFileSync(SCHEMA_FILE, 'utf8');
    for (const route of [
      '"/api/ssh-keys"',
      '"/api/ssh-keys/import"',
      '"/api/ssh-keys/{id}/private-key"',
      '"/api/onboarding"',
      '"/api/agents/{id}/tool-environment"',
    ]) {
      expect(committed).toContain(route);
    }
  });
});
