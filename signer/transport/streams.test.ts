import { describe, expect, it } from 'vitest';
import { requestStreamConfig, resultConsumerConfigs, resultStreamConfig } from './streams.ts';

describe('stream and consumer shapes (contract §1.2, §1.4)', () => {
  it('request streams are Limits, 7 days, 100 000 000 bytes', () => {
    expect(requestStreamConfig('mpc-keygen', 'mpc.keygen_request.*')).toEqual({
      name: 'mpc-keygen',
      description: 'Stream for mpc-keygen',
      subjects: ['mpc.keygen_request.*'],
      retention: 'limits',
      storage: 'file',
      max_age: 604_800_000_000_000,
      max_bytes: 100_000_000,
    });
  });

  it('the result stream is a WorkQueue over the three result wildcards', () => {
    expect(resultStreamConfig()).toMatchObject({
      name: 'mpc',
      retention: 'workqueue',
      subjects: ['mpc.mpc_keygen_result.>', 'mpc.mpc_signing_result.>', 'mpc.mpc_reshare_result.>'],
      max_bytes: 100_000_000,
    });
  });

  it('result consumers follow the routing scope', () => {
    expect(resultConsumerConfigs('').map((c) => [c.durable_name, c.filter_subject])).toEqual([
      ['mpc_keygen_result', 'mpc.mpc_keygen_result.*'],
      ['mpc_signing_result', 'mpc.mpc_signing_result.complete'],
      ['mpc_reshare_result', 'mpc.mpc_reshare_result.*'],
    ]);
    expect(resultConsumerConfigs('svc-a').map((c) => [c.durable_name, c.filter_subject])).toEqual([
      ['mpc_keygen_result_svc_a', 'mpc.mpc_keygen_result.svc-a.*'],
      ['mpc_signing_result_svc_a', 'mpc.mpc_signing_result.svc-a.complete'],
      ['mpc_reshare_result_svc_a', 'mpc.mpc_reshare_result.svc-a.*'],
    ]);
    for (const config of resultConsumerConfigs('x')) {
      expect(config).toMatchObject({
        ack_policy: 'explicit',
        ack_wait: 30e9,
        max_deliver: 3,
        max_ack_pending: 1000,
      });
    }
  });
});
