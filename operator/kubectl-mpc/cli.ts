#!/usr/bin/env node
/**
 * The `kubectl-mpc` binary (kubectl finds it on PATH as the `kubectl mpc` plugin): see
 * `commands.ts` for commands, flags and exit codes. Uses the user's kubeconfig like kubectl.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { runKubectlMpc } from './commands.ts';
import { createPluginKube } from './kube.ts';

process.exitCode = await runKubectlMpc(
  process.argv.slice(2),
  {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  },
  {
    connect: ({ kubeconfig, context }) => {
      const config = new KubeConfig();
      if (kubeconfig === undefined) config.loadFromDefault();
      else config.loadFromFile(kubeconfig);
      if (context !== undefined) {
        if (!config.getContexts().some((c) => c.name === context))
          throw new Error(`context ${context} not found in the kubeconfig`);
        config.setCurrentContext(context);
      }
      const namespace = config.getContextObject(config.getCurrentContext())?.namespace;
      return {
        kube: createPluginKube(config),
        namespace: namespace === undefined || namespace === '' ? 'default' : namespace,
      };
    },
  },
);
