/** Overwrites each buffer with zeros. Use on every secret scratch buffer once it is done. */
export function wipeBytes(...buffers: (Uint8Array | undefined)[]): void {
  for (const buffer of buffers) buffer?.fill(0);
}
