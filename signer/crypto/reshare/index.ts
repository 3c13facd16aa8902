/** Resharing (crypto.md §4): move a key to a new committee and threshold, same public key. */
export { ReshareError, ReshareErrorCode } from './errors.ts';
export type { NewShareResult, ReshareOptions, ReshareProtocol } from './options.ts';
export { createFrostReshareProtocol } from './frost-reshare.ts';
export { createDkls23ReshareProtocol } from './dkls23-reshare.ts';
