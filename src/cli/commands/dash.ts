/** `fog8 dash [RUNS_ROOT] [--port N] [--host H]`: the live, read-only dashboard. */
import type { Command } from 'commander';
import { startDashServer } from '../../report/dash-server.js';

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new RangeError(`--port must be an integer in [0, 65535], got ${JSON.stringify(value)}`);
  return n;
}

function parsePollMs(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 100 || n > 3_600_000) throw new RangeError(`--poll-ms must be an integer in [100, 3600000] (milliseconds), got ${JSON.stringify(value)}`);
  return n;
}

export function registerDashCommand(program: Command): void {
  program
    .command('dash')
    .description('serve a live dashboard of the runs under RUNS_ROOT (read-only; binds 127.0.0.1 unless --host)')
    .argument('[runsRoot]', 'directory of run directories (or one run directory)', 'runs')
    .option('--port <n>', 'TCP port (0: any free port)', parsePort, 8321)
    .option('--host <host>', 'interface to bind', '127.0.0.1')
    .option('--poll-ms <ms>', 'page refresh interval in milliseconds', parsePollMs, 2000)
    .action(async (runsRoot: string, opts: { port: number; host: string; pollMs: number }) => {
      const dash = await startDashServer({ root: runsRoot, port: opts.port, host: opts.host, pollMs: opts.pollMs });
      console.log(`dashboard: ${dash.url} (serving ${runsRoot}; Ctrl-C to stop)`);
      await new Promise<void>((resolveStop) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void dash.close().then(resolveStop);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
