/**
 * `berth reconcile`: runs the environment reconciler once, now, and prints what it did.
 * For the operator after an incident (a crash, a DigitalOcean outage): it adopts droplets
 * whose create was never recorded, destroys this installation's droplets that belong to no
 * live environment, marks vanished ones unresponsive, and resumes abandoned deploys and
 * teardowns. Other installations' droplets on the same account are never touched.
 */
import { Command } from 'commander';
import type { Config } from '../config/config.ts';
import { buildCore, defaultLogger } from '../main.ts';
import { createProgress } from './progress.ts';

export function reconcileCommand(loadConfig: () => Config): Command {
  return new Command('reconcile')
    .description('Reconcile tool environments with DigitalOcean once (safe to run beside running berths).')
    .action(async () => {
      const config = loadConfig();
      const core = await buildCore(config, defaultLogger({ ...config, logLevel: 'warn' }));
      try {
        const progress = createProgress('reconciling');
        const report = await core.environments.reconciler.reconcile((done, total) =>
          progress.update(done, total),
        );
        progress.stop();
        // Deploys it resumed run in the background: let them reach DigitalOcean first.
        await core.environments.service.settled();
        process.stdout.write(
          `${report.droplets} droplet(s) seen: ${report.adopted} adopted, ${report.destroyed} destroyed, ` +
            `${report.unresponsive} marked unresponsive, ${report.resumed} resumed` +
            (report.leftAlone > 0
              ? `, ${report.leftAlone} from before installation ids left alone (no live record claims them)`
              : '') +
            '\n',
        );
      } finally {
        await core.close();
      }
    });
}
