/**
 * Reading JSON objects with Go `encoding/json` struct-decoding semantics (reference
 * `mpcium-contract.md` §2): field names matched case-insensitively (with Go's Unicode folding of
 * `K` U+212A and `ſ` U+017F), unknown fields ignored, `null` leaves a field at its zero value,
 * `[]byte` as standard padded base64. We are stricter than Go where Go would silently pick one
 * of several spellings: two keys that fold to the same field are a `ValidationError`.
 */
import { ErrorCode, MpcError, ValidationError } from './errors.ts';
import { decodeStdBase64, toGoDecodedString } from './go-json.ts';

/** The body is not a JSON object (or not UTF-8): `ERROR_UNMARSHAL_FAILURE`. */
export class MalformedMessageError extends MpcError {
  constructor(message: string) {
    super(ErrorCode.UnmarshalFailure, `unmarshal: ${message}`);
  }
}

/** The body exceeds the size cap: reported as a validation failure of the whole body. */
export class MessageTooLargeError extends ValidationError {
  constructor(size: number, limit: number) {
    super('body', `is ${size} bytes, the limit is ${limit}`);
  }
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes a JSON object body. Throws `MessageTooLargeError` above `maxBytes`,
 * `MalformedMessageError` for invalid UTF-8, invalid JSON or a non-object top level.
 */
export function parseJsonObjectBody(body: Uint8Array, maxBytes: number): GoFieldReader {
  if (body.byteLength > maxBytes) throw new MessageTooLargeError(body.byteLength, maxBytes);
  let text: string;
  try {
    text = utf8Decoder.decode(body);
  } catch {
    throw new MalformedMessageError('body is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new MalformedMessageError(
      error instanceof SyntaxError ? 'body is not valid JSON' : 'body could not be decoded',
    );
  }
  if (!isPlainObject(parsed)) throw new MalformedMessageError('body is not a JSON object');
  return new GoFieldReader(parsed, '');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Go's case folding of a JSON key for struct matching (field names are ASCII). */
function foldFieldName(name: string): string {
  return name
    .replace(/\u212a/g, 'k')
    .replace(/\u017f/g, 's')
    .toLowerCase();
}

/**
 * Field access on one decoded JSON object, Go-style. `path` prefixes field names in errors
 * (e.g. `authorizer_signatures[1].signature`).
 */
export class GoFieldReader {
  private readonly byFoldedName = new Map<string, { key: string; value: unknown }>();

  constructor(
    object: Record<string, unknown>,
    private readonly path: string,
  ) {
    for (const [key, value] of Object.entries(object)) {
      const folded = foldFieldName(key);
      const previous = this.byFoldedName.get(folded);
      if (previous !== undefined) {
        throw new ValidationError(
          this.fieldPath(folded),
          `given more than once (${JSON.stringify(previous.key)}, ${JSON.stringify(key)})`,
        );
      }
      this.byFoldedName.set(folded, { key, value });
    }
  }

  /** Full field path used in errors. */
  fieldPath(field: string): string {
    return this.path === '' ? field : `${this.path}.${field}`;
  }

  /** Raw decoded value, `undefined` when absent or `null`. */
  raw(field: string): unknown {
    const value = this.byFoldedName.get(field)?.value;
    return value === null ? undefined : value;
  }

  /** A Go `string` field: absent/null → `''`; lone surrogates → U+FFFD as Go decodes them. */
  string(field: string): string {
    const value = this.raw(field);
    if (value === undefined) return '';
    if (typeof value !== 'string')
      throw new ValidationError(this.fieldPath(field), 'must be a string');
    return toGoDecodedString(value);
  }

  /** A Go `[]byte` field: absent/null → `null` (nil), else standard padded base64. */
  bytes(field: string): Uint8Array | null {
    const value = this.raw(field);
    if (value === undefined) return null;
    if (typeof value !== 'string') {
      throw new ValidationError(this.fieldPath(field), 'must be a base64 string');
    }
    const decoded = decodeStdBase64(value);
    if (decoded === undefined) {
      throw new ValidationError(this.fieldPath(field), 'must be standard padded base64');
    }
    return decoded;
  }

  /** A Go `bool` field: absent/null → false. */
  boolean(field: string): boolean {
    const value = this.raw(field);
    if (value === undefined) return false;
    if (typeof value !== 'boolean')
      throw new ValidationError(this.fieldPath(field), 'must be a boolean');
    return value;
  }

  /** A Go `int` field: absent/null → 0; must be an integer within ±2^53. */
  integer(field: string): number {
    const value = this.raw(field);
    if (value === undefined) return 0;
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      throw new ValidationError(this.fieldPath(field), 'must be an integer');
    }
    return value;
  }

  /** A Go slice field: absent/null → `null` (nil); otherwise the array, at most `maxItems`. */
  array(field: string, maxItems: number): unknown[] | null {
    const value = this.raw(field);
    if (value === undefined) return null;
    if (!Array.isArray(value)) throw new ValidationError(this.fieldPath(field), 'must be an array');
    if (value.length > maxItems) {
      throw new ValidationError(this.fieldPath(field), `must have at most ${maxItems} entries`);
    }
    return value;
  }

  /** Reader for a nested object element (e.g. one authorizer signature). */
  static nested(value: unknown, path: string): GoFieldReader {
    if (!isPlainObject(value)) throw new ValidationError(path, 'must be an object');
    return new GoFieldReader(value, path);
  }
}
