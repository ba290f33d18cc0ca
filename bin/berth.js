#!/usr/bin/env node
// berth's command-line entry point. berth is written in TypeScript and runs it directly
// through tsx's loader, so `npm install` then `npm start` needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
