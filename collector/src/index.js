#!/usr/bin/env node
/**
 * `npm start` / `node src/index.js`: run the collector until SIGINT (Ctrl+C) or SIGTERM (a deploy).
 * Exit codes: 0 after a clean stop; 78 when a setting is missing or bad (the message names it);
 * 1 when start-up fails otherwise (the auth state cannot be read, the status port is taken…).
 */

import { runCollector } from './app.js';
import { ConfigError } from './config.js';

let collector;
try {
  collector = await runCollector();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(78);
  }
  process.stderr.write(`the collector could not start: ${error.stack ?? error}\n`);
  process.exit(1);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    collector.log.info({ signal }, 'stopping');
    collector.stop().then(() => process.exit(0), (error) => {
      process.stderr.write(`the collector did not stop cleanly: ${error.stack ?? error}\n`);
      process.exit(1);
    });
  });
}
