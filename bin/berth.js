#!/usr/bin/env node
// berth's command-line entry point. berth is written in TypeScript and runs it as it is,
// so `npm install` then `npm start` needs no build step. Node 22.18+ and 24 strip the
// types themselves (`process.features.typescript` says so); on an older Node, and where
// Node refuses to strip (a copy of berth inside node_modules), tsx's loader does it.
const nativeTypeScript = Boolean(process.features.typescript) && !import.meta.url.includes('/node_modules/');
if (!nativeTypeScript) {
  const { register } = await import('tsx/esm/api');
  register();
}
await import('../src/cli/main.ts');
