/**
 * fl.v1 secagg.proto <-> the domain messages of shared/src/core/secagg. Every "from proto" mapping bounds sizes and
 * counts (the peer may be anyone) and throws CohortError('INVALID_ARGUMENT') naming the field; whether a message
 * makes sense at this stage is the state machines' business.
 */
import { CohortError } from '../core/errors.js';
import type { AdvertisedKeys, EncryptedShare, RevealedShare, SecAggReply, SecAggRequest } from '../core/secagg/messages.js';
import { ClientMessage as ClientMessageCodec, CoordinatorMessage as CoordinatorMessageCodec } from '../gen/fl/v1/client.pb.js';
import type { ClientMessage, CoordinatorMessage } from '../gen/fl/v1/client.pb.js';
import type { AdvertisedKeys as ProtoAdvertisedKeys, EncryptedShare as ProtoEncryptedShare, RevealedShare as ProtoRevealedShare } from '../gen/fl/v1/secagg.pb.js';

/** Most clients one secure-aggregation message may list (cohort ids, survivors, neighbours). */
export const MAX_SECAGG_LIST = 20_000;
const MAX_ID_LENGTH = 128;
const MAX_BYTES_FIELD = 1024;

type CoordinatorBody = NonNullable<CoordinatorMessage['body']>;
type ClientBody = NonNullable<ClientMessage['body']>;

const buf = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function ids(values: readonly string[], field: string): string[] {
  if (values.length > MAX_SECAGG_LIST) throw new CohortError('INVALID_ARGUMENT', `${field} lists ${values.length} clients, more than ${MAX_SECAGG_LIST}`);
  for (const id of values) id_(id, field);
  return [...values];
}

function id_(value: string, field: string): string {
  if (value.length === 0 || value.length > MAX_ID_LENGTH) throw new CohortError('INVALID_ARGUMENT', `${field}: client id must be 1..${MAX_ID_LENGTH} characters`);
  return value;
}

function bytes(value: Uint8Array, field: string, max = MAX_BYTES_FIELD): Uint8Array {
  if (value.length > max) throw new CohortError('INVALID_ARGUMENT', `${field} is ${value.length} bytes, more than ${max}`);
  return new Uint8Array(value);
}

function list<T>(values: readonly T[], field: string): readonly T[] {
  if (values.length > MAX_SECAGG_LIST) throw new CohortError('INVALID_ARGUMENT', `${field} has ${values.length} entries, more than ${MAX_SECAGG_LIST}`);
  return values;
}

function keysToProto(k: AdvertisedKeys): ProtoAdvertisedKeys {
  return {
    clientId: k.clientId,
    cipherPublicKey: buf(k.cipherPublicKey),
    maskPublicKey: buf(k.maskPublicKey),
    signature: buf(k.signature),
    identityPublicKey: buf(k.identityPublicKey),
    selfMaskCommitment: buf(k.selfMaskCommitment),
  };
}

function keysFromProto(k: ProtoAdvertisedKeys, field: string): AdvertisedKeys {
  return {
    clientId: id_(k.clientId, `${field}.client_id`),
    identityPublicKey: bytes(k.identityPublicKey, `${field}.identity_public_key`),
    cipherPublicKey: bytes(k.cipherPublicKey, `${field}.cipher_public_key`),
    maskPublicKey: bytes(k.maskPublicKey, `${field}.mask_public_key`),
    selfMaskCommitment: bytes(k.selfMaskCommitment, `${field}.self_mask_commitment`),
    signature: bytes(k.signature, `${field}.signature`),
  };
}

const shareToProto = (s: EncryptedShare): ProtoEncryptedShare => ({ fromClientId: s.fromId, toClientId: s.toId, ciphertext: buf(s.ciphertext) });

function sharesFromProto(values: readonly ProtoEncryptedShare[], field: string): EncryptedShare[] {
  return list(values, field).map((s) => ({ fromId: id_(s.fromClientId, `${field}.from_client_id`), toId: id_(s.toClientId, `${field}.to_client_id`), ciphertext: bytes(s.ciphertext, `${field}.ciphertext`) }));
}

const revealedToProto = (s: RevealedShare): ProtoRevealedShare => ({ ownerClientId: s.ownerId, share: buf(s.share) });

function revealedFromProto(values: readonly ProtoRevealedShare[], field: string): RevealedShare[] {
  return list(values, field).map((s) => ({ ownerId: id_(s.ownerClientId, `${field}.owner_client_id`), share: bytes(s.share, `${field}.share`, 64) }));
}

export function secAggRequestToProto(message: SecAggRequest): CoordinatorBody {
  switch (message.stage) {
    case 'advertise-keys': {
      const r = message.request;
      return {
        $case: 'advertiseKeys',
        value: {
          neighbourIds: [...r.neighbourIds],
          threshold: r.threshold,
          permutationCommitment: r.buckets === null ? '' : hex(r.buckets.commitment),
          cohortIds: r.buckets === null ? [] : [...r.buckets.cohortIds],
          bucketCount: r.buckets === null ? 1 : r.buckets.count,
          bucket: message.bucket,
        },
      };
    }
    case 'share-keys':
      return { $case: 'shareKeys', value: { neighbours: message.request.neighbours.map(keysToProto), permutationSeed: buf(message.request.permutationSeed ?? new Uint8Array(0)) } };
    case 'masked-input':
      return { $case: 'maskedInput', value: { shares: message.request.shares.map(shareToProto) } };
    case 'consistency-check':
      return { $case: 'consistencyCheck', value: { survivorIds: [...message.request.survivorIds] } };
    case 'unmasking': {
      const signatures: Record<string, Buffer> = {};
      for (const [id, signature] of message.request.signatures) signatures[id] = buf(signature);
      return { $case: 'unmask', value: { survivorIds: [...message.request.survivorIds], droppedIds: [...message.request.droppedIds], signatures } };
    }
  }
}

/** The secure-aggregation request in a coordinator message, or null when the body is something else. */
export function secAggRequestFromProto(body: CoordinatorMessage['body']): SecAggRequest | null {
  switch (body?.$case) {
    case 'advertiseKeys': {
      const v = body.value;
      const commitment = v.permutationCommitment;
      if (commitment.length > 0 && !/^[0-9a-f]{64}$/.test(commitment)) throw new CohortError('INVALID_ARGUMENT', 'advertise_keys.permutation_commitment must be a hex SHA-256');
      return {
        stage: 'advertise-keys',
        bucket: v.bucket,
        request: {
          neighbourIds: ids(v.neighbourIds, 'advertise_keys.neighbour_ids'),
          threshold: v.threshold,
          buckets: commitment.length === 0 ? null : { commitment: new Uint8Array(Buffer.from(commitment, 'hex')), cohortIds: ids(v.cohortIds, 'advertise_keys.cohort_ids'), count: v.bucketCount },
        },
      };
    }
    case 'shareKeys':
      return {
        stage: 'share-keys',
        request: {
          neighbours: list(body.value.neighbours, 'share_keys.neighbours').map((k, i) => keysFromProto(k, `share_keys.neighbours[${i}]`)),
          permutationSeed: body.value.permutationSeed.length === 0 ? null : bytes(body.value.permutationSeed, 'share_keys.permutation_seed', 64),
        },
      };
    case 'maskedInput':
      return { stage: 'masked-input', request: { shares: sharesFromProto(body.value.shares, 'masked_input.shares') } };
    case 'consistencyCheck':
      return { stage: 'consistency-check', request: { survivorIds: ids(body.value.survivorIds, 'consistency_check.survivor_ids') } };
    case 'unmask': {
      const signatures = new Map<string, Uint8Array>();
      for (const [id, signature] of Object.entries(body.value.signatures)) signatures.set(id_(id, 'unmask.signatures'), bytes(signature, 'unmask.signatures', 64));
      if (signatures.size > MAX_SECAGG_LIST) throw new CohortError('INVALID_ARGUMENT', 'unmask.signatures has too many entries');
      return { stage: 'unmasking', request: { survivorIds: ids(body.value.survivorIds, 'unmask.survivor_ids'), droppedIds: ids(body.value.droppedIds, 'unmask.dropped_ids'), signatures } };
    }
    default:
      return null;
  }
}

export function secAggReplyToProto(message: SecAggReply): ClientBody {
  switch (message.stage) {
    case 'advertise-keys':
      return { $case: 'advertisedKeys', value: keysToProto(message.reply) };
    case 'share-keys':
      return { $case: 'sharedKeys', value: { shares: message.reply.shares.map(shareToProto) } };
    case 'masked-input':
      return { $case: 'maskedInputReady', value: { uploadSha256: message.reply.uploadSha256, rejectedShareIds: [...message.reply.rejectedShareIds] } };
    case 'consistency-check':
      return { $case: 'consistencySignature', value: { signature: buf(message.reply.signature) } };
    case 'unmasking':
      return { $case: 'unmaskShares', value: { selfMaskShares: message.reply.seedShares.map(revealedToProto), maskKeyShares: message.reply.keyShares.map(revealedToProto) } };
  }
}

/** The secure-aggregation reply in a client message, or null when the body is something else. */
export function secAggReplyFromProto(body: ClientMessage['body']): SecAggReply | null {
  switch (body?.$case) {
    case 'advertisedKeys':
      return { stage: 'advertise-keys', reply: keysFromProto(body.value, 'advertised_keys') };
    case 'sharedKeys':
      return { stage: 'share-keys', reply: { shares: sharesFromProto(body.value.shares, 'shared_keys.shares') } };
    case 'maskedInputReady':
      return { stage: 'masked-input', reply: { uploadSha256: body.value.uploadSha256.slice(0, 64), rejectedShareIds: ids(body.value.rejectedShareIds, 'masked_input_ready.rejected_share_ids') } };
    case 'consistencySignature':
      return { stage: 'consistency-check', reply: { signature: bytes(body.value.signature, 'consistency_signature.signature', 64) } };
    case 'unmaskShares':
      return { stage: 'unmasking', reply: { seedShares: revealedFromProto(body.value.selfMaskShares, 'unmask_shares.self_mask_shares'), keyShares: revealedFromProto(body.value.maskKeyShares, 'unmask_shares.mask_key_shares') } };
    default:
      return null;
  }
}

/** Encoded size of a session message carrying this request (for per-stage traffic accounting). */
export function secAggRequestWireBytes(roundId: string, message: SecAggRequest): number {
  return CoordinatorMessageCodec.encode({ roundId, body: secAggRequestToProto(message) }).finish().length;
}

/** Encoded size of a session message carrying this reply. */
export function secAggReplyWireBytes(roundId: string, message: SecAggReply): number {
  return ClientMessageCodec.encode({ roundId, body: secAggReplyToProto(message) }).finish().length;
}
