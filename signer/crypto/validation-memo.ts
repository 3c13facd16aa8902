/**
 * Remembers, for the life of the process, that exact key-share fields passed validation, so a
 * share decoded again for the next session (the share store keeps shares sealed on disk and
 * every session decodes its own copy) skips the checks whose outcome those bytes determine: a
 * base-point multiplication that ties the secret share to its public share and, for DKLs23,
 * the polynomial interpolation of the public shares.
 *
 * An entry is an HMAC-SHA256 tag of the length-prefixed fields under a random key made when
 * the first tag is needed and never exported: it reveals nothing about the share, and fields
 * that were never validated in this process cannot match one (that would be an HMAC forgery).
 * Bounded; the oldest entries go first.
 */
import { createHmac, randomBytes } from 'node:crypto';

export class ValidationMemo {
  #key: Buffer | undefined;
  readonly #tags = new Set<string>();

  constructor(private readonly limit: number) {}

  /** True when exactly these fields (in this order) were `remember`ed. */
  has(fields: readonly Uint8Array[]): boolean {
    return this.#tags.has(this.#tag(fields));
  }

  /** Records that these fields passed validation. */
  remember(fields: readonly Uint8Array[]): void {
    const tag = this.#tag(fields);
    if (this.#tags.has(tag)) return;
    if (this.#tags.size >= this.limit) {
      const oldest = this.#tags.values().next().value;
      if (oldest !== undefined) this.#tags.delete(oldest);
    }
    this.#tags.add(tag);
  }

  #tag(fields: readonly Uint8Array[]): string {
    this.#key ??= randomBytes(32);
    const mac = createHmac('sha256', this.#key);
    const length = Buffer.alloc(4);
    for (const field of fields) {
      length.writeUInt32BE(field.length, 0);
      mac.update(length).update(field);
    }
    return mac.digest('base64');
  }
}
