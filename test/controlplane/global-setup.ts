/**
 * vitest global setup for the operator suite: one real control plane (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler, kwok) for the whole run. Test files get its
 * coordinates with `inject('kubeconfigPath')` etc., and each uses its own namespaces.
 */
import type { TestProject } from 'vitest/node';
import { startControlPlane, type ControlPlane } from './control-plane.ts';

let controlPlane: ControlPlane | undefined;

export async function setup(project: TestProject): Promise<void> {
  controlPlane = await startControlPlane();
  project.provide('kubeconfigPath', controlPlane.kubeconfigPath);
  project.provide('k8sBinDir', controlPlane.binDir);
  project.provide('k8sServerUrl', controlPlane.serverUrl);
  project.provide('k8sNodeName', controlPlane.nodeName);
}

export async function teardown(): Promise<void> {
  await controlPlane?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfigPath: string;
    k8sBinDir: string;
    k8sServerUrl: string;
    k8sNodeName: string;
  }
}
