/** examples/reshare.md names the node ids the operator really gives the example's signers. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { MpcCluster } from '../api/mpc-cluster.ts';
import { signerPodNames } from './names.ts';

describe('examples/reshare.md', () => {
  it('uses the node ids of the grown examples/mpccluster.yaml cluster', () => {
    const example = parse(readFileSync('examples/mpccluster.yaml', 'utf8')) as MpcCluster;
    const doc = readFileSync('examples/reshare.md', 'utf8');
    const replicas = Number(/replicas: (\d+)/.exec(doc)?.[1]);
    const nodeIds = /--node-ids ([\w,-]+)/.exec(doc)?.[1]?.split(',');
    expect(nodeIds).toEqual(signerPodNames({ ...example, spec: { ...example.spec, replicas } }));
  });
});
