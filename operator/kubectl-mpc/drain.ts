/**
 * `kubectl mpc drain-check <node>`: is it safe to drain a Kubernetes node, i.e. does every
 * MpcCluster keep at least its quorum (threshold + 1) of ready signers once the signers on that
 * node are gone? Pure: the command feeds it what it read from the apiserver.
 *
 * A signer counts as ready only when its pod is Ready now (the pod list, fresher than any
 * status) AND the operator's status counts it (Lease live, identity matching its pin); a signer
 * the status does not list yet is judged by its pod alone. The quorum is the larger of the
 * spec's and the status's (during a refused or pending reshare they differ): the verdict errs
 * towards "not safe". Signers on the node that are not ready cost nothing to drain.
 *
 * Not safe = the drain takes at least one ready signer from a cluster and leaves it below
 * quorum. A cluster already below quorum with no ready signer on the node is not affected by
 * the drain (it is reported, but does not block it): otherwise one dead cluster anywhere would
 * forbid every drain in the fleet.
 */

export interface DrainSigner {
  readonly name: string;
  /** spec.nodeName of its pod; undefined while unscheduled. */
  readonly node?: string;
  readonly podReady: boolean;
  /** status.signers[].ready; undefined when the status does not list it. */
  readonly statusReady?: boolean;
}

export interface DrainCluster {
  readonly namespace: string;
  readonly name: string;
  readonly quorum: number;
  readonly signers: readonly DrainSigner[];
}

export interface ClusterDrainVerdict {
  readonly namespace: string;
  readonly name: string;
  readonly quorum: number;
  readonly readyNow: number;
  /** Ready signers of this cluster on the node (they go with the drain). */
  readonly readyOnNode: number;
  readonly readyAfter: number;
  /** readyNow - quorum: how many ready signers the cluster can lose and still sign. */
  readonly margin: number;
  readonly safe: boolean;
  /** Below quorum already, with nothing ready on the node: signing is down, not by the drain. */
  readonly alreadyBelowQuorum: boolean;
}

export interface DrainVerdict {
  readonly node: string;
  /** Every cluster, also those with no signer on the node (sorted by namespace/name). */
  readonly clusters: readonly ClusterDrainVerdict[];
  readonly safe: boolean;
}

export function countsReady(signer: DrainSigner): boolean {
  return signer.podReady && signer.statusReady !== false;
}

export function drainVerdict(node: string, clusters: readonly DrainCluster[]): DrainVerdict {
  const verdicts = clusters
    .map((cluster): ClusterDrainVerdict => {
      const ready = cluster.signers.filter(countsReady);
      const readyOnNode = ready.filter((signer) => signer.node === node).length;
      const readyAfter = ready.length - readyOnNode;
      return {
        namespace: cluster.namespace,
        name: cluster.name,
        quorum: cluster.quorum,
        readyNow: ready.length,
        readyOnNode,
        readyAfter,
        margin: ready.length - cluster.quorum,
        safe: readyOnNode === 0 || readyAfter >= cluster.quorum,
        alreadyBelowQuorum: ready.length < cluster.quorum,
      };
    })
    .sort((a, b) =>
      `${a.namespace}/${a.name}` < `${b.namespace}/${b.name}`
        ? -1
        : `${a.namespace}/${a.name}` > `${b.namespace}/${b.name}`
          ? 1
          : 0,
    );
  return { node, clusters: verdicts, safe: verdicts.every((v) => v.safe) };
}
