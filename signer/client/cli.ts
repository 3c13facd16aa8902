#!/usr/bin/env node
/** The `mpc` binary: see `cli-commands.ts` for commands, flags and exit codes. */
import { runCli } from './cli-commands.ts';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
});
