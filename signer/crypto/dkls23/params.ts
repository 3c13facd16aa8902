/**
 * Fixed DKLs23 parameters (see README.md). Changing any of them changes every message and the
 * key-share format, so they are part of the encoding version.
 */

/** κ: base OTs per ordered pair = bits of the OT-extension correlation Δ. */
export const KAPPA = 256;
/** λs: statistical security of the RVOLE input entropy and the OT-extension padding. */
export const STATISTICAL_SECURITY = 128;
/** ξ = 256 + 2·λs: OT-extension batch = number of receiver choice bits per RVOLE. */
export const BATCH = 256 + 2 * STATISTICAL_SECURITY;
/** Width of one GF(2^128) block of the KOS check. */
export const CHECK_BLOCK_BITS = 128;
/** Extended columns: ξ real plus one random padding block that masks the check values. */
export const EXTENDED_COLUMNS = BATCH + CHECK_BLOCK_BITS;
/** Bytes per row of the κ × EXTENDED_COLUMNS bit matrix. */
export const ROW_BYTES = EXTENDED_COLUMNS / 8;
/** Number of 128-bit check blocks per row. */
export const CHECK_BLOCKS = EXTENDED_COLUMNS / CHECK_BLOCK_BITS;
/** ℓ: RVOLE sender inputs (r_i and sk_i). */
export const RVOLE_INPUTS = 2;
/** ρ: RVOLE check columns. */
export const RVOLE_CHECKS = 1;
/** ℓ + ρ: scalars per extended OT. */
export const RVOLE_WIDTH = RVOLE_INPUTS + RVOLE_CHECKS;
/** Encoding version of every message and of the key share. */
export const WIRE_VERSION = 1;
export const SCALAR_BYTES = 32;
export const POINT_BYTES = 33;
export const SEED_BYTES = 32;
