/**
 * Loading the signer configuration (file + environment) and its secrets (KEK, chain code).
 * Both run once at startup and throw `ConfigError` with a message fit for the operator.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { wipeBytes } from '../crypto/wipe.ts';
import { ConfigError } from './config-error.ts';
import { FAULT_INJECTION_ENV, applyEnvOverrides, readEnvOverrides } from './env-overrides.ts';
import { parseSignerConfig, type SignerConfig } from './signer-config.ts';

/** Inline chain codes, kept off the config object so that logging it cannot leak them. */
const inlineChainCodes = new WeakMap<SignerConfig, Uint8Array>();

export interface LoadSignerConfigOptions {
  /** YAML (or JSON) file; optional when the environment supplies every required key. */
  readonly file?: string;
  /** Usually `process.env`; see env-overrides.ts for the `MPC_*` rule. */
  readonly env: Record<string, string | undefined>;
}

/**
 * Reads `file` (if given), applies `MPC_*` environment overrides, validates and returns the
 * frozen config. Throws `ConfigError` naming the first bad field (or the file).
 */
export function loadSignerConfig(options: LoadSignerConfigOptions): SignerConfig {
  const fromFile = options.file === undefined ? {} : readConfigFile(options.file);
  const overrides = readEnvOverrides(options.env);
  const raw = applyEnvOverrides(fromFile, overrides);
  const parsed = parseSignerConfig(raw, {
    sourceOf: (path) => overrides.sources.get(path),
    faultInjectionAllowed: options.env[FAULT_INJECTION_ENV] === '1',
  });
  if (parsed.inlineChainCode !== undefined) {
    inlineChainCodes.set(parsed.config, parsed.inlineChainCode);
  }
  return parsed.config;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, `cannot read the configuration file (${errnoCode(error)})`, {
      cause: error,
    });
  }
  const document = parseDocument(text, { uniqueKeys: true });
  const firstError = document.errors[0];
  if (firstError !== undefined) {
    // The library's message quotes the offending source line, which may hold a secret:
    // report only its code and position.
    const position = firstError.linePos?.[0];
    const where = position === undefined ? '' : ` at line ${position.line}, column ${position.col}`;
    throw new ConfigError(file, `YAML syntax error ${firstError.code}${where}`);
  }
  const value: unknown = document.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(file, 'expected a YAML mapping at the top level');
  }
  return value as Record<string, unknown>;
}

function errnoCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'read error';
}

/** The signer's long-lived secrets. Both buffers are the caller's: wipe them at shutdown. */
export interface SignerSecrets {
  /** 32-byte key-encryption key for the share store. */
  readonly kek: Uint8Array;
  /** 32-byte HD chain code, identical on every signer (mpcium `chain_code`). */
  readonly chainCode: Uint8Array;
}

/**
 * Reads the KEK file and the chain code. A secret file holds either exactly 32 raw bytes or
 * 64 hex characters (surrounding whitespace ignored). Errors name the field and give sizes
 * only, never contents.
 */
export function loadSignerSecrets(config: SignerConfig): SignerSecrets {
  const kek = readSecretFile('kek.file', config.kek.file);
  let chainCode: Uint8Array;
  if (config.chainCode.source === 'file') {
    try {
      chainCode = readSecretFile('chain_code.file', config.chainCode.file);
    } catch (error) {
      wipeBytes(kek);
      throw error;
    }
  } else {
    const inline = inlineChainCodes.get(config);
    if (inline === undefined) {
      wipeBytes(kek);
      throw new ConfigError(
        'chain_code',
        'inline chain code unavailable: pass the config object returned by loadSignerConfig',
      );
    }
    chainCode = inline.slice();
  }
  return { kek, chainCode };
}

/** Parses 32 raw bytes or 64 hex characters; wipes what it read. */
export function decodeSecretBytes(field: string, contents: Uint8Array): Uint8Array {
  if (contents.length === 32) {
    const bytes = new Uint8Array(contents); // a copy (Buffer#slice would be a view)
    if (bytes.every((byte) => byte === 0)) {
      wipeBytes(bytes);
      throw new ConfigError(field, 'the 32-byte secret is all zeros');
    }
    return bytes;
  }
  let start = 0;
  let end = contents.length;
  const isSpace = (byte: number | undefined): boolean =>
    byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
  while (start < end && isSpace(contents[start])) start++;
  while (end > start && isSpace(contents[end - 1])) end--;
  if (end - start !== 64) {
    throw new ConfigError(
      field,
      `expected exactly 32 bytes or 64 hex characters, got ${contents.length} bytes`,
    );
  }
  const bytes = new Uint8Array(32);
  for (let index = 0; index < 32; index++) {
    const high = hexDigit(contents[start + 2 * index]);
    const low = hexDigit(contents[start + 2 * index + 1]);
    if (high < 0 || low < 0) {
      wipeBytes(bytes);
      throw new ConfigError(
        field,
        'expected exactly 32 bytes or 64 hex characters, found a non-hex character',
      );
    }
    bytes[index] = (high << 4) | low;
  }
  if (bytes.every((byte) => byte === 0)) {
    throw new ConfigError(field, 'the 32-byte secret is all zeros');
  }
  return bytes;
}

function hexDigit(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  return -1;
}

function readSecretFile(field: string, file: string): Uint8Array {
  let contents: Buffer;
  try {
    contents = readFileSync(file);
  } catch (error) {
    throw new ConfigError(field, `cannot read the secret file (${errnoCode(error)})`, {
      cause: error,
    });
  }
  try {
    return decodeSecretBytes(field, contents);
  } finally {
    wipeBytes(contents);
  }
}
