/**
 * The signer's Kubernetes preStop wait (design §11, issue 7): when a pod is about to stop
 * (node drain, manual delete, rollout), its preStop hook calls `GET /prestop`, which holds
 * the answer while this signer leaving would leave fewer than `quorum` other ready signers —
 * giving a replacement or a recovering peer time to come up — and answers after at most
 * `maxWaitMs` in any case, so termination is never blocked for good (the pod's
 * terminationGracePeriodSeconds must exceed the bound). Pure apart from the injected clock and
 * sleep.
 */

export interface PrestopOptions {
  /** Ready signers other than this one, as this signer sees them now. */
  readonly otherReadySigners: () => number;
  readonly quorum: number;
  readonly maxWaitMs: number;
  /** Re-check interval. */
  readonly pollMs: number;
  readonly now: () => number;
  readonly sleep: (ms: number) => Promise<void>;
}

export interface PrestopOutcome {
  /** True when quorum holds without this signer; false when the bound ran out first. */
  readonly safe: boolean;
  readonly waitedMs: number;
  readonly otherReadySigners: number;
}

export async function waitUntilSafeToLeave(options: PrestopOptions): Promise<PrestopOutcome> {
  const started = options.now();
  for (;;) {
    const others = options.otherReadySigners();
    const waitedMs = options.now() - started;
    if (others >= options.quorum) return { safe: true, waitedMs, otherReadySigners: others };
    if (waitedMs >= options.maxWaitMs) {
      return { safe: false, waitedMs, otherReadySigners: others };
    }
    await options.sleep(Math.min(options.pollMs, options.maxWaitMs - waitedMs));
  }
}
