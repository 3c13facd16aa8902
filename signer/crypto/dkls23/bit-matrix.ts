/**
 * Bit-matrix transposition for the OT extension. Rows are stored row-major, `rowBytes` bytes
 * each; bit c of a row is bit (c & 7) of byte (c >> 3). The transpose of `rows` × (8·rowBytes)
 * is returned as `columns` × (rows / 8) bytes, limited to the first `columns` columns.
 * Works on 8×8 bit blocks.
 */
export function transposeBits(
  matrix: Uint8Array,
  rows: number,
  rowBytes: number,
  columns: number,
): Uint8Array {
  if (
    rows % 8 !== 0 ||
    columns % 8 !== 0 ||
    columns > rowBytes * 8 ||
    matrix.length !== rows * rowBytes
  ) {
    throw new RangeError('transposeBits: dimensions must be multiples of 8 and match the matrix');
  }
  const columnBytes = rows / 8;
  const out = new Uint8Array(columns * columnBytes);
  for (let rowBlock = 0; rowBlock < columnBytes; rowBlock++) {
    const rowBase = rowBlock * 8 * rowBytes;
    for (let columnByte = 0; columnByte < columns / 8; columnByte++) {
      // Gather the 8×8 block as two 32-bit halves: row k in byte (k & 3) of lo (k < 4) or hi.
      const b = rowBase + columnByte;
      let lo =
        (matrix[b] as number) |
        ((matrix[b + rowBytes] as number) << 8) |
        ((matrix[b + 2 * rowBytes] as number) << 16) |
        ((matrix[b + 3 * rowBytes] as number) << 24);
      let hi =
        (matrix[b + 4 * rowBytes] as number) |
        ((matrix[b + 5 * rowBytes] as number) << 8) |
        ((matrix[b + 6 * rowBytes] as number) << 16) |
        ((matrix[b + 7 * rowBytes] as number) << 24);
      // Transpose the 8x8 block held as a 64-bit word (row k = byte k, column m = bit m).
      let t = (lo ^ (lo >>> 7)) & 0x00aa00aa;
      lo = lo ^ t ^ (t << 7);
      t = (hi ^ (hi >>> 7)) & 0x00aa00aa;
      hi = hi ^ t ^ (t << 7);
      t = (lo ^ (lo >>> 14)) & 0x0000cccc;
      lo = lo ^ t ^ (t << 14);
      t = (hi ^ (hi >>> 14)) & 0x0000cccc;
      hi = hi ^ t ^ (t << 14);
      t = (lo & 0x0f0f0f0f) | ((hi << 4) & 0xf0f0f0f0);
      hi = ((lo >>> 4) & 0x0f0f0f0f) | (hi & 0xf0f0f0f0);
      lo = t;
      // Now byte m of (lo, hi) holds column (8·columnByte + m) for these 8 rows.
      const c = columnByte * 8;
      out[(c + 0) * columnBytes + rowBlock] = lo & 0xff;
      out[(c + 1) * columnBytes + rowBlock] = (lo >>> 8) & 0xff;
      out[(c + 2) * columnBytes + rowBlock] = (lo >>> 16) & 0xff;
      out[(c + 3) * columnBytes + rowBlock] = lo >>> 24;
      out[(c + 4) * columnBytes + rowBlock] = hi & 0xff;
      out[(c + 5) * columnBytes + rowBlock] = (hi >>> 8) & 0xff;
      out[(c + 6) * columnBytes + rowBlock] = (hi >>> 16) & 0xff;
      out[(c + 7) * columnBytes + rowBlock] = hi >>> 24;
    }
  }
  return out;
}

/** Reference transposition, one bit at a time (tests). */
export function transposeBitsNaive(
  matrix: Uint8Array,
  rows: number,
  rowBytes: number,
  columns: number,
): Uint8Array {
  const columnBytes = rows / 8;
  const out = new Uint8Array(columns * columnBytes);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const bit = ((matrix[r * rowBytes + (c >> 3)] as number) >> (c & 7)) & 1;
      out[c * columnBytes + (r >> 3)] =
        (out[c * columnBytes + (r >> 3)] as number) | (bit << (r & 7));
    }
  }
  return out;
}
