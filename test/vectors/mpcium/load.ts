/** Loads a JSON test-vector file from test/vectors/mpcium/ (test helper, not shipped). */
import { readFileSync } from 'node:fs';

export function loadMpciumVectors<T>(name: string): T {
  const url = new URL(name, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as T;
}

export function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
