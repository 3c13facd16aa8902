/**
 * The signer's root logger: pino JSON on stdout with redaction as a backstop. The first line
 * of defence is that secrets are never passed to the logger at all (they live in Uint8Arrays
 * that are wiped, and error messages carry only ids and counts).
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

/** Paths censored wherever they appear one level deep (pino redaction is path-based). */
export const REDACTED_PATHS: readonly string[] = [
  'share',
  'secret',
  'privateKey',
  'private_key',
  'password',
  'seed',
  'kek',
  'nonce',
  'chainCode',
  'chain_code',
  'token',
  '*.share',
  '*.secret',
  '*.privateKey',
  '*.private_key',
  '*.password',
  '*.seed',
  '*.kek',
  '*.nonce',
  '*.chainCode',
  '*.chain_code',
  '*.token',
];

export function createLogger(options: {
  level: LevelWithSilent;
  nodeId: string;
  destination?: pino.DestinationStream;
}): Logger {
  const config = {
    level: options.level,
    base: { nodeId: options.nodeId },
    redact: { paths: [...REDACTED_PATHS], censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return options.destination === undefined ? pino(config) : pino(config, options.destination);
}
