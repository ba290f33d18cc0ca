// drizzle-kit generates the table migrations from src/db/schema.ts into
// src/db/migrations; hand-written ones are added with `drizzle-kit generate --custom`.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './src/db/migrations',
});
