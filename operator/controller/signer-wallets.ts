/**
 * Asks a signer which wallets still need a node (issue 14 item 3): `GET
 * /wallets/needing?node=<nodeId>&limit=<n>` on the signer's HTTP port (signer/observability/
 * http-server.ts), reached as `<pod>.<headless Service>.<namespace>.svc`. The answer is
 * `{ node, count, wallets: [{ walletId, keyType }] }` (at most `limit` wallets; `count` is the
 * total). Anything else (timeout, non-200, malformed body, a different node echoed) is an
 * error answer, which blocks a scale-down: the operator removes a signer only on positive
 * evidence. An injected dependency of the reconciler, so control-plane tests (kwok pods, no
 * HTTP server) replace it at this boundary.
 */
import { SIGNER_HTTP_PORT } from '../resources/names.ts';
import { MAX_NAMED_WALLETS, type SignerAnswer, type WalletRef } from '../status/scaling.ts';

export interface SignerTarget {
  readonly namespace: string;
  /** Headless governing Service of the signer StatefulSet. */
  readonly service: string;
  readonly pod: string;
}

export interface SignerWalletQuery {
  walletsNeeding(target: SignerTarget, node: string): Promise<SignerAnswer>;
}

export function parseWalletsNeeding(node: string, body: unknown): SignerAnswer {
  const value = body as { node?: unknown; count?: unknown; wallets?: unknown } | null;
  if (typeof value !== 'object' || value === null) return { ok: false, error: 'not an object' };
  if (value.node !== node) return { ok: false, error: 'answer is about another node' };
  const count = value.count;
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0)
    return { ok: false, error: 'malformed count' };
  if (!Array.isArray(value.wallets)) return { ok: false, error: 'malformed wallets' };
  const wallets: WalletRef[] = [];
  for (const entry of value.wallets as unknown[]) {
    const wallet = entry as { walletId?: unknown; keyType?: unknown } | null;
    if (
      typeof wallet !== 'object' ||
      wallet === null ||
      typeof wallet.walletId !== 'string' ||
      typeof wallet.keyType !== 'string'
    )
      return { ok: false, error: 'malformed wallet entry' };
    wallets.push({ walletId: wallet.walletId, keyType: wallet.keyType });
  }
  if (wallets.length > count) return { ok: false, error: 'more wallets than count' };
  return { ok: true, count, wallets };
}

export function httpSignerWalletQuery(
  options: {
    readonly port?: number;
    readonly timeoutMs?: number;
    /** Builds the base URL of a signer (tests point it at a local signer). */
    readonly baseUrl?: (target: SignerTarget) => string;
  } = {},
): SignerWalletQuery {
  const port = options.port ?? SIGNER_HTTP_PORT;
  const timeoutMs = options.timeoutMs ?? 5000;
  const baseUrl =
    options.baseUrl ??
    ((target: SignerTarget) =>
      `http://${target.pod}.${target.service}.${target.namespace}.svc:${port}`);
  return {
    async walletsNeeding(target, node) {
      const url = `${baseUrl(target)}/wallets/needing?node=${encodeURIComponent(node)}&limit=${MAX_NAMED_WALLETS}`;
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
        if (response.status !== 200) {
          await response.body?.cancel();
          return { ok: false, error: `HTTP ${response.status}` };
        }
        return parseWalletsNeeding(node, await response.json());
      } catch (error) {
        return { ok: false, error: error instanceof Error ? error.message : String(error) };
      }
    },
  };
}
