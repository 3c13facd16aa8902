#!/usr/bin/env node
/**
 * The `kubectl-mpc` binary (kubectl finds it on PATH as the `kubectl mpc` plugin): see
 * `commands.ts` for commands, flags and exit codes. Uses the user's kubeconfig like kubectl.
 */
import { runKubectlMpc } from './commands.ts';
import { connectKubeconfig } from './kube.ts';

process.exitCode = await runKubectlMpc(
  process.argv.slice(2),
  {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  },
  { connect: connectKubeconfig },
);
