/** `berth serve`: runs berth until SIGINT or SIGTERM, then shuts down cleanly. */
import { Command } from 'commander';
import type { Config } from '../config/config.ts';
import { defaultLogger, startServer } from '../main.ts';

export function serveCommand(loadConfig: () => Config): Command {
  return new Command('serve')
    .description('Run berth: the API, sign-in and web UI (what `npm start` runs).')
    .action(async () => {
      const config = loadConfig();
      const logger = defaultLogger(config);
      const running = await startServer(config, logger);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      logger.info('berth is stopping');
      await running.stop();
    });
}
