/**
 * NATS authorization for the platform (README "NATS permissions"): the least-privilege
 * permission set of each role, and a nats-server configuration that enforces them with one
 * account and per-run users. `npm run local` and the integration tests run nats-server with
 * this configuration; production uses the same sets (chart README), with nkeys/JWTs.
 *
 * Roles and what they must be able to do (subjects from signer/protocol/subjects.ts,
 * transport/peer-messenger.ts, transport/streams.ts, membership/nats-kv-membership.ts,
 * service/operation-ledger.ts, service/reshare-intake.ts, service/max-delivery-advisories.ts):
 * - `signer`: node-to-node `mpcnode.>` (publish, subscribe; requests and replies), the
 *   `mpc:reshare` intake (subscribe, queue group) and its stream `mpc.reshare_request.>`
 *   (publish), results `mpc.mpc_*_result.>` (publish), JetStream API `$JS.API.>` (streams,
 *   request durables, KV buckets `mpc_operations` / `mpc_membership`, message gets) except
 *   deleting or purging streams, acks `$JS.ACK.>`, KV writes `$KV.mpc_operations.>` /
 *   `$KV.mpc_membership.>`, max-delivery advisories (subscribe), replies on `_INBOX.>`.
 *   It may not publish keygen/signing requests or `mpc:reshare`, nor anything on `$JS.EVENT.>`.
 * - `client` (mpcium Go/TS clients, our SDK): publish requests on `mpc.keygen_request.>`,
 *   `mpc.signing_request.>`, `mpc.reshare_request.>` and `mpc.refresh_pair_request.>` (our SDK)
 *   and `mpc:reshare`; JetStream API
 *   for what the clients do: the Go client's `CreateOrUpdateStream` of `mpc-keygen`,
 *   `mpc-signing` and `mpc` and `CreateOrUpdateConsumer` of its result durables (the TS client:
 *   stream info/add and consumer info/add), pulls and acks on stream `mpc`, message gets on
 *   `mpc`; subscribe to `_INBOX.>` (replies, pull deliveries) and the result subjects. It may not
 *   publish on `mpcnode.>`, results, KV, `$JS.EVENT.>` or delete/purge anything.
 * - `operator`: the Kubernetes operator does not talk to NATS at all (no role).
 * - `admin` (tests and `npm run local` only, never handed to a component): everything, to
 *   inspect streams and to prove the signers' second line of defence (forged advisories).
 *
 * Unauthenticated connections are refused, except that local runs map them to `client`
 * (`no_auth_user`) so that unmodified mpcium clients can use `npm run local -- --keep` by URL.
 */
import { randomBytes } from 'node:crypto';

export type NatsRole = 'signer' | 'client' | 'admin';

export interface NatsPermissionSet {
  readonly publish: { readonly allow: readonly string[]; readonly deny?: readonly string[] };
  readonly subscribe: { readonly allow: readonly string[]; readonly deny?: readonly string[] };
  /** Publishing to the reply subject of a received request (once, within a bound). */
  readonly allowResponses: boolean;
}

/** The request and stream names the client role manages (mpcium Go client `NewMPCClient`). */
const CLIENT_STREAMS = ['mpc', 'mpc-keygen', 'mpc-signing', 'mpc-reshare', 'mpc-refresh-pair'];

const RESULT_SUBJECTS = [
  'mpc.mpc_keygen_result.>',
  'mpc.mpc_signing_result.>',
  'mpc.mpc_reshare_result.>',
];

export const NATS_PERMISSIONS: Readonly<Record<Exclude<NatsRole, 'admin'>, NatsPermissionSet>> = {
  signer: {
    publish: {
      allow: [
        'mpcnode.>',
        ...RESULT_SUBJECTS,
        'mpc.reshare_request.>',
        '$JS.API.>',
        '$JS.ACK.>',
        '$KV.mpc_operations.>',
        '$KV.mpc_membership.>',
      ],
      deny: ['$JS.API.STREAM.DELETE.>', '$JS.API.STREAM.PURGE.>'],
    },
    subscribe: {
      allow: [
        'mpcnode.>',
        'mpc:reshare',
        '_INBOX.>',
        '$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.>',
      ],
    },
    allowResponses: true,
  },
  client: {
    publish: {
      allow: [
        'mpc.keygen_request.>',
        'mpc.signing_request.>',
        'mpc.reshare_request.>',
        'mpc.refresh_pair_request.>',
        'mpc:reshare',
        '$JS.API.INFO',
        '$JS.API.STREAM.NAMES',
        ...CLIENT_STREAMS.flatMap((stream) => [
          `$JS.API.STREAM.INFO.${stream}`,
          `$JS.API.STREAM.CREATE.${stream}`,
          `$JS.API.STREAM.UPDATE.${stream}`,
        ]),
        '$JS.API.CONSUMER.CREATE.mpc.>',
        '$JS.API.CONSUMER.DURABLE.CREATE.mpc.>',
        '$JS.API.CONSUMER.INFO.mpc.>',
        '$JS.API.CONSUMER.DELETE.mpc.>',
        '$JS.API.CONSUMER.NAMES.mpc',
        '$JS.API.CONSUMER.LIST.mpc',
        '$JS.API.CONSUMER.MSG.NEXT.mpc.>',
        '$JS.API.STREAM.MSG.GET.mpc',
        '$JS.API.DIRECT.GET.mpc',
        '$JS.API.DIRECT.GET.mpc.>',
        '$JS.ACK.mpc.>',
      ],
    },
    subscribe: { allow: ['_INBOX.>', ...RESULT_SUBJECTS] },
    allowResponses: false,
  },
};

export interface NatsUserCredentials {
  readonly user: string;
  readonly password: string;
}

export type NatsCredentials = Readonly<Record<NatsRole, NatsUserCredentials>>;

/** Fresh users with random passwords (one set per nats-server run). */
export function generateNatsCredentials(): NatsCredentials {
  const password = (): string => randomBytes(24).toString('base64url');
  return {
    signer: { user: 'mpc-signer', password: password() },
    client: { user: 'mpc-client', password: password() },
    admin: { user: 'mpc-admin', password: password() },
  };
}

/** JSON is valid nats-server configuration syntax, and quotes every subject safely. */
function permissionsBlock(set: NatsPermissionSet): Record<string, unknown> {
  return {
    publish: { allow: set.publish.allow, ...(set.publish.deny ? { deny: set.publish.deny } : {}) },
    subscribe: {
      allow: set.subscribe.allow,
      ...(set.subscribe.deny ? { deny: set.subscribe.deny } : {}),
    },
    ...(set.allowResponses ? { allow_responses: { max: 1, expires: '5m' } } : {}),
  };
}

/**
 * The `accounts` section of a nats-server configuration: one JetStream-enabled account `MPC`
 * with the three users, plus `no_auth_user` when anonymous connections should be clients.
 */
export function natsAuthorizationConfig(
  credentials: NatsCredentials,
  options: { readonly anonymousAsClient: boolean },
): string {
  const users = [
    {
      user: credentials.signer.user,
      password: credentials.signer.password,
      permissions: permissionsBlock(NATS_PERMISSIONS.signer),
    },
    {
      user: credentials.client.user,
      password: credentials.client.password,
      permissions: permissionsBlock(NATS_PERMISSIONS.client),
    },
    { user: credentials.admin.user, password: credentials.admin.password },
  ];
  const lines = [`accounts: ${JSON.stringify({ MPC: { jetstream: 'enabled', users } }, null, 2)}`];
  if (options.anonymousAsClient) {
    lines.push(`no_auth_user: ${JSON.stringify(credentials.client.user)}`);
  }
  return `${lines.join('\n')}\n`;
}
