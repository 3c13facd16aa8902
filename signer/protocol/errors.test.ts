import { describe, expect, it } from 'vitest';
import { ErrorCode, MpcError, ValidationError, errorCodeOf } from './errors.ts';

describe('errors', () => {
  it('maps typed errors to their code and anything else to ERROR_UNKNOWN', () => {
    expect(errorCodeOf(new ValidationError('tx_id', 'must not be empty'))).toBe(
      ErrorCode.MsgValidation,
    );
    expect(errorCodeOf(new MpcError(ErrorCode.PeerUnavailable, 'peer node1 unreachable'))).toBe(
      'ERROR_PEER_UNAVAILABLE',
    );
    expect(errorCodeOf(new Error('failed to send direct message'))).toBe('ERROR_UNKNOWN');
    expect(errorCodeOf('not an error')).toBe('ERROR_UNKNOWN');
  });

  it('names the bad field in validation errors', () => {
    const error = new ValidationError('wallet_id', 'must not be empty');
    expect(error.field).toBe('wallet_id');
    expect(error.message).toBe('validation: wallet_id: must not be empty');
    expect(error.name).toBe('ValidationError');
  });
});
