#!/usr/bin/env node
// The sockengine command. The TypeScript is compiled to dist/ by `npm ci` (prepare).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (error) => {
    process.stderr.write(`sockengine: ${error && error.stack ? error.stack : error}\n`);
    process.exit(1);
  },
);
