/** The two key types of every wallet, as the mpcium contract names them. */
export type KeyType = 'ed25519' | 'secp256k1';
