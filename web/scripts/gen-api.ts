/**
 * Writes web/src/api/schema.gen.ts, the types the web UI's API client is checked
 * against, from the OpenAPI document berth's own routes generate. Run it with
 * `npm run gen:api` whenever a route changes; test/web/api-schema.test.ts fails until then.
 */
import { writeFileSync } from 'node:fs';
import { buildOpenApiDocument, renderApiTypes, SCHEMA_FILE } from './openapi-document.ts';

const document = await buildOpenApiDocument();
writeFileSync(SCHEMA_FILE, await renderApiTypes(document));
process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
