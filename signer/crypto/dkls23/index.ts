/** DKLs23 threshold ECDSA on secp256k1: public API. See README.md. */
export { createDkls23KeygenProtocol, type Dkls23KeygenOptions } from './keygen-protocol.ts';
export {
  createDkls23SigningProtocol,
  type Dkls23SigningOptions,
  type Dkls23Signature,
} from './signing-protocol.ts';
export {
  decodeDkls23KeyShare,
  encodeDkls23KeyShare,
  wipeDkls23KeyShare,
  type Dkls23KeyShare,
  type Dkls23PairSetup,
} from './key-share.ts';
export * from './errors.ts';
export { BATCH, KAPPA, STATISTICAL_SECURITY, WIRE_VERSION } from './params.ts';
export { Dkls23PairBans } from './pair-bans.ts';
export {
  createDkls23PairRefreshProtocol,
  type Dkls23PairRefreshOptions,
  type Dkls23PairRefreshResult,
} from './pair-refresh-protocol.ts';
