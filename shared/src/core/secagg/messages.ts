/** Secure-aggregation stage messages in domain form (the gRPC adapters map fl.v1 secagg.proto to and from these). */

/** Coordinator → client: start of advertise-keys. */
export interface AdvertiseKeysRequest {
  /** This client's neighbours in the SecAgg+ graph of its bucket. */
  neighbourIds: string[];
  /** Shamir threshold t. */
  threshold: number;
  /** Bucketed mode: SHA-256 commitment to the bucket permutation seed, the whole cohort and the bucket count. */
  buckets: { commitment: Uint8Array; cohortIds: string[]; count: number } | null;
}

/** Client → coordinator: fresh X25519 keys and a commitment to the self-mask seed, signed with the identity key. */
export interface AdvertisedKeys {
  clientId: string;
  /** Enrolled Ed25519 identity key; the client id is derived from it, so it cannot be swapped unnoticed. */
  identityPublicKey: Uint8Array;
  /** X25519 key for encrypting shares. */
  cipherPublicKey: Uint8Array;
  /** X25519 key for pairwise masks. */
  maskPublicKey: Uint8Array;
  /** SHA-256 commitment to the self-mask seed (lets the coordinator check its reconstruction). */
  selfMaskCommitment: Uint8Array;
  /** Ed25519 signature over advertisedKeysPayload(...). */
  signature: Uint8Array;
}

/** Coordinator → client: the neighbours' advertised keys; in bucketed mode the permutation seed is revealed. */
export interface ShareKeysRequest {
  neighbours: AdvertisedKeys[];
  permutationSeed: Uint8Array | null;
}

/** Shamir shares of one client's two secrets for one neighbour, AEAD-encrypted (nonce prepended). */
export interface EncryptedShare {
  fromId: string;
  toId: string;
  ciphertext: Uint8Array;
}

/** Client → coordinator: one encrypted share per live neighbour. */
export interface SharedKeys {
  shares: EncryptedShare[];
}

/** Coordinator → client: the shares addressed to this client; their senders are its mask partners. */
export interface MaskedInputRequest {
  shares: EncryptedShare[];
}

/** Client → coordinator: the masked input was uploaded; senders whose share failed authentication are named. */
export interface MaskedInputReady {
  uploadSha256: string;
  rejectedShareIds: string[];
}

/** Coordinator → client: the clients whose masked inputs are in the sum. */
export interface ConsistencyCheckRequest {
  survivorIds: string[];
}

/** Client → coordinator: Ed25519 signature over survivorsPayload(context, survivors). */
export interface ConsistencySignature {
  signature: Uint8Array;
}

/** Coordinator → client: survivors, dropped clients, and the survivors' signatures (this client's neighbours'). */
export interface UnmaskRequest {
  survivorIds: string[];
  droppedIds: string[];
  signatures: ReadonlyMap<string, Uint8Array>;
}

/** A Shamir share (encoded: x || y) of a secret of `ownerId`. */
export interface RevealedShare {
  ownerId: string;
  share: Uint8Array;
}

/** Client → coordinator: seed shares of survivors, mask-key shares of dropped partners, never both for one owner. */
export interface UnmaskShares {
  seedShares: RevealedShare[];
  keyShares: RevealedShare[];
}

/** The protocol stages in order. */
export type SecAggStage = 'advertise-keys' | 'share-keys' | 'masked-input' | 'consistency-check' | 'unmasking';

/** A coordinator request of one stage, as the session carries it. */
export type SecAggRequest =
  | { stage: 'advertise-keys'; bucket: number; request: AdvertiseKeysRequest }
  | { stage: 'share-keys'; request: ShareKeysRequest }
  | { stage: 'masked-input'; request: MaskedInputRequest }
  | { stage: 'consistency-check'; request: ConsistencyCheckRequest }
  | { stage: 'unmasking'; request: UnmaskRequest };

/** A client reply of one stage (the masked input itself travels through UploadUpdate; its SHA-256 is announced here). */
export type SecAggReply =
  | { stage: 'advertise-keys'; reply: AdvertisedKeys }
  | { stage: 'share-keys'; reply: SharedKeys }
  | { stage: 'masked-input'; reply: MaskedInputReady }
  | { stage: 'consistency-check'; reply: ConsistencySignature }
  | { stage: 'unmasking'; reply: UnmaskShares };
