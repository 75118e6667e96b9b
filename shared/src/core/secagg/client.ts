/**
 * The client side of one secure sum (SecAgg, Bonawitz et al. 2017, on the SecAgg+ graph of Bell et al. 2020), as a
 * synchronous state machine: each stage method takes the coordinator's request and returns the reply, or throws a
 * PROTOCOL_VIOLATION CohortError and refuses every later stage. The coordinator is not trusted: every neighbour key
 * must carry a valid signature by the identity its client id names, shares are authenticated and bound to their
 * direction, the survivor set is signed and cross-checked before anything is revealed, and for no neighbour is both
 * the self-mask-seed share and the mask-key share ever revealed.
 */
import { CohortError } from '../errors.js';
import type { SecAggContext, SecAggCrypto } from './context.js';
import {
  KEY_BYTES,
  SEED_BYTES,
  SIGNATURE_BYTES,
  advertisedKeysPayload,
  bytesEqual,
  decodeSharePlaintext,
  encodeSharePlaintext,
  pairMaskKey,
  pairSign,
  permutationCommitment,
  selfMaskCommitment,
  selfMaskKey,
  shareAssociatedData,
  shareKey,
  survivorsPayload,
} from './context.js';
import { assignBuckets } from './graph.js';
import type {
  AdvertiseKeysRequest,
  AdvertisedKeys,
  ConsistencyCheckRequest,
  ConsistencySignature,
  EncryptedShare,
  MaskedInputRequest,
  SecAggStage,
  ShareKeysRequest,
  SharedKeys,
  UnmaskRequest,
  UnmaskShares,
} from './messages.js';
import type { MaskTerm } from './context.js';
import { SECRET_FIELD, encodeShare, secretFromBytes, splitSecret } from './shamir.js';

export interface SecAggClientOptions {
  context: SecAggContext;
  clientId: string;
  /** The enrolled Ed25519 identity key pair. */
  identity: { publicKey: Uint8Array; secretKey: Uint8Array };
  crypto: SecAggCrypto;
}

interface Neighbour {
  keys: AdvertisedKeys;
}

interface HeldShares {
  seedShare: Uint8Array;
  keyShare: Uint8Array;
}

type ClientState = SecAggStage | 'done' | 'failed';

export class SecAggClient {
  private state: ClientState = 'advertise-keys';
  private readonly context: SecAggContext;
  private readonly clientId: string;
  private readonly crypto: SecAggCrypto;
  private readonly identity: { publicKey: Uint8Array; secretKey: Uint8Array };
  private neighbourIds: string[] = [];
  private threshold = 0;
  private buckets: AdvertiseKeysRequest['buckets'] = null;
  private cipherSecretKey: Uint8Array | null = null;
  private maskSecretKey: Uint8Array | null = null;
  private selfMaskSeed: Uint8Array | null = null;
  private readonly neighbours = new Map<string, Neighbour>();
  /** Shares other clients dealt to us, by owner: these owners are our mask partners. */
  private readonly held = new Map<string, HeldShares>();
  private readonly partners: string[] = [];
  /** PRG key of the pairwise mask with each live neighbour (derived at share-keys). */
  private readonly pairKeys = new Map<string, Uint8Array>();
  private readonly rejected: string[] = [];
  private signedSurvivors: string[] | null = null;
  private bucketMembers: Set<string> | null = null;
  /** Owners whose seed share / key share left this client (the "never both" invariant is checked against these). */
  readonly revealedSeedOwners = new Set<string>();
  readonly revealedKeyOwners = new Set<string>();

  constructor(options: SecAggClientOptions) {
    this.context = options.context;
    this.clientId = options.clientId;
    this.crypto = options.crypto;
    this.identity = options.identity;
  }

  /** The stage this client expects next ('done' after unmasking, 'failed' after a refusal). */
  get stage(): ClientState {
    return this.state;
  }

  /** The partners this client masked with (after masked-input). */
  get partnerIds(): string[] {
    return [...this.partners].sort();
  }

  advertiseKeys(request: AdvertiseKeysRequest): AdvertisedKeys {
    return this.step('advertise-keys', 'share-keys', () => {
      const ids = request.neighbourIds;
      if (ids.length === 0) this.refuse('the coordinator gave this client no neighbours');
      if (new Set(ids).size !== ids.length) this.refuse('the neighbour list repeats a client');
      if (ids.includes(this.clientId)) this.refuse('the neighbour list contains this client itself');
      const t = request.threshold;
      if (!Number.isInteger(t) || t < 1 || t > ids.length) this.refuse(`threshold ${t} is not in [1, ${ids.length}] (the number of neighbours)`);
      // Below a majority, a lying coordinator could gather both share sets of one client from honest neighbours.
      if (2 * t <= ids.length) this.refuse(`threshold ${t} is not more than half of ${ids.length} neighbours`);
      if (request.buckets !== null) {
        const { commitment, cohortIds, count } = request.buckets;
        if (commitment.length !== 32) this.refuse('the bucket permutation commitment is not 32 bytes');
        if (!cohortIds.includes(this.clientId)) this.refuse('the cohort list does not contain this client');
        if (!Number.isInteger(count) || count < 1 || count > cohortIds.length) this.refuse(`bucket count ${count} is not in [1, ${cohortIds.length}]`);
        if (this.context.bucket >= count) this.refuse(`bucket ${this.context.bucket} does not exist among ${count}`);
      } else if (this.context.bucket !== 0) {
        this.refuse(`bucket ${this.context.bucket} named without a committed bucket permutation`);
      }
      this.neighbourIds = [...ids].sort();
      this.threshold = t;
      this.buckets = request.buckets;
      const cipher = this.crypto.agreementKeyPair(this.crypto.randomBytes(KEY_BYTES));
      const mask = this.crypto.agreementKeyPair(this.crypto.randomBytes(KEY_BYTES));
      this.cipherSecretKey = cipher.secretKey;
      this.maskSecretKey = mask.secretKey;
      this.selfMaskSeed = this.crypto.randomBytes(SEED_BYTES);
      const commitment = selfMaskCommitment(this.crypto, this.context, this.clientId, this.selfMaskSeed);
      const payload = advertisedKeysPayload(this.context, this.clientId, cipher.publicKey, mask.publicKey, commitment);
      return {
        clientId: this.clientId,
        identityPublicKey: this.identity.publicKey,
        cipherPublicKey: cipher.publicKey,
        maskPublicKey: mask.publicKey,
        selfMaskCommitment: commitment,
        signature: this.crypto.sign(payload, this.identity.secretKey),
      };
    });
  }

  shareKeys(request: ShareKeysRequest): SharedKeys {
    return this.step('share-keys', 'masked-input', () => {
      this.checkBuckets(request.permutationSeed);
      for (const keys of request.neighbours) {
        const id = keys.clientId;
        if (!this.neighbourIds.includes(id)) this.refuse(`keys of ${id}, who is not a neighbour of this client`);
        if (this.neighbours.has(id)) this.refuse(`keys of ${id} were sent twice`);
        this.verifyKeys(keys);
        this.neighbours.set(id, { keys });
      }
      const live = [...this.neighbours.keys()].sort();
      if (live.length < this.threshold) this.refuse(`only ${live.length} neighbours advertised keys; the threshold is ${this.threshold}`);
      // Shares of both secrets, t-of-m over the live neighbours; share i goes to the i-th neighbour (x = i + 1).
      const xs = live.map((_, i) => i + 1);
      const random = (n: number): Uint8Array => this.crypto.randomBytes(n);
      const seedShares = splitSecret(secretFromBytes(this.selfMaskSeed!), this.threshold, xs, SECRET_FIELD, random);
      const keyShares = splitSecret(secretFromBytes(this.maskSecretKey!), this.threshold, xs, SECRET_FIELD, random);
      // Pairwise mask keys now, for every live neighbour: masked-input (which waits on local training) then only
      // expands and adds keystreams.
      for (const id of live) {
        const secret = this.crypto.agree(this.maskSecretKey!, this.neighbours.get(id)!.keys.maskPublicKey);
        if (secret === null) this.refuse(`the mask key of ${id} is a low-order point`);
        this.pairKeys.set(id, pairMaskKey(this.crypto, this.context, secret, this.clientId, id));
      }
      const shares: EncryptedShare[] = live.map((toId, i) => {
        const key = this.shareKeyWith(toId);
        const plaintext = encodeSharePlaintext(this.clientId, toId, encodeShare(seedShares[i]!, SECRET_FIELD), encodeShare(keyShares[i]!, SECRET_FIELD));
        return { fromId: this.clientId, toId, ciphertext: this.crypto.seal(key, plaintext, shareAssociatedData(this.context, this.clientId, toId)) };
      });
      return { shares };
    });
  }

  /**
   * Decrypts the shares dealt to this client; their senders are its mask partners. Returns the input plus its self
   * mask plus one pairwise mask per partner, mod 2^32; `input` is not modified. A share that fails authentication
   * (or names another sender or recipient) is not held, but its sender stays a partner: the pairwise mask needs only
   * the advertised keys, and the coordinator masks with exactly the senders it delivered. Such senders are listed in
   * `rejectedShareSenders` for the coordinator, which drops them as protocol violators.
   */
  maskInput(request: MaskedInputRequest, input: Uint32Array): Uint32Array {
    return this.step('masked-input', 'consistency-check', () => {
      for (const share of request.shares) {
        const fromId = share.fromId;
        if (share.toId !== this.clientId) this.refuse(`a share addressed to ${share.toId} was delivered to this client`);
        if (!this.neighbours.has(fromId)) this.refuse(`a share from ${fromId}, who is not a neighbour with advertised keys`);
        if (this.partners.includes(fromId)) this.refuse(`two shares from ${fromId}`);
        this.partners.push(fromId);
        const plaintext = this.crypto.open(this.shareKeyWith(fromId), share.ciphertext, shareAssociatedData(this.context, fromId, this.clientId));
        const decoded = plaintext === null ? null : tryDecodeSharePlaintext(plaintext);
        if (decoded === null || decoded.fromId !== fromId || decoded.toId !== this.clientId) {
          this.rejected.push(fromId);
          continue;
        }
        this.held.set(fromId, { seedShare: decoded.seedShare, keyShare: decoded.keyShare });
      }
      if (this.partners.length < this.threshold) this.refuse(`only ${this.partners.length} partners' shares arrived; the threshold is ${this.threshold}`);
      const terms: MaskTerm[] = [{ key: selfMaskKey(this.crypto, this.context, this.clientId, this.selfMaskSeed!), sign: 1 }];
      for (const partner of this.partners) terms.push({ key: this.pairKeys.get(partner)!, sign: pairSign(this.clientId, partner) });
      const masked = input.slice();
      this.crypto.applyMasks(masked, terms);
      return masked;
    });
  }

  /** Senders whose share failed authentication at masked-input (reported to the coordinator with the upload). */
  get rejectedShareSenders(): string[] {
    return [...this.rejected];
  }

  consistencyCheck(request: ConsistencyCheckRequest): ConsistencySignature {
    return this.step('consistency-check', 'unmasking', () => {
      const survivors = this.checkSurvivorList(request.survivorIds);
      this.signedSurvivors = survivors;
      return { signature: this.crypto.sign(survivorsPayload(this.context, survivors), this.identity.secretKey) };
    });
  }

  unmask(request: UnmaskRequest): UnmaskShares {
    return this.step('unmasking', 'done', () => {
      const signed = this.signedSurvivors!;
      const survivors = this.checkSurvivorList(request.survivorIds);
      if (survivors.length !== signed.length || survivors.some((id, i) => id !== signed[i])) {
        this.refuse('the survivor set in the unmask request differs from the one this client signed');
      }
      const survivorSet = new Set(survivors);
      for (const id of request.droppedIds) {
        if (survivorSet.has(id)) this.refuse(`client ${id} is listed both as a survivor and as dropped: refusing to reveal both of its shares`);
      }
      // At least t neighbours (this client included) must have signed the same survivor set, or the coordinator may
      // be telling others a different story. Every neighbour signature shown is checked, not just t of them: one
      // that does not verify is proof the coordinator lies, and the client refuses and says so.
      const payload = survivorsPayload(this.context, survivors);
      let agreeing = 1;
      for (const [id, signature] of request.signatures) {
        if (id === this.clientId) continue;
        const neighbour = this.neighbours.get(id);
        if (neighbour === undefined) continue;
        if (!survivorSet.has(id)) this.refuse(`a consistency signature from ${id}, who is not a survivor`);
        if (!this.crypto.verify(signature, payload, neighbour.keys.identityPublicKey)) {
          this.refuse(`the consistency signature of ${id} does not match the survivor set this client signed`);
        }
        agreeing++;
      }
      if (agreeing < this.threshold) this.refuse(`only ${agreeing} neighbours (this client included) signed the survivor set; the threshold is ${this.threshold}`);
      const out: UnmaskShares = { seedShares: [], keyShares: [] };
      for (const [owner, shares] of this.held) {
        if (survivorSet.has(owner)) {
          if (this.revealedKeyOwners.has(owner)) this.refuse(`the mask-key share of ${owner} was already revealed`);
          this.revealedSeedOwners.add(owner);
          out.seedShares.push({ ownerId: owner, share: shares.seedShare });
        } else {
          if (this.revealedSeedOwners.has(owner)) this.refuse(`the self-mask share of ${owner} was already revealed`);
          this.revealedKeyOwners.add(owner);
          out.keyShares.push({ ownerId: owner, share: shares.keyShare });
        }
      }
      return out;
    });
  }

  // Internals.

  private step<T>(expected: SecAggStage, next: ClientState, body: () => T): T {
    if (this.state !== expected) {
      const why = this.state === 'failed' ? 'this client already refused an earlier stage' : `this client is at stage ${this.state}`;
      throw new CohortError('PROTOCOL_VIOLATION', `secure aggregation: a ${expected} request arrived but ${why}`);
    }
    try {
      const out = body();
      this.state = next;
      return out;
    } catch (error) {
      this.state = 'failed';
      throw error;
    }
  }

  private refuse(reason: string): never {
    throw new CohortError('PROTOCOL_VIOLATION', `secure aggregation (${this.context.roundId}, bucket ${this.context.bucket}): ${reason}`);
  }

  private checkBuckets(seed: Uint8Array | null): void {
    const buckets = this.buckets;
    if (buckets === null) {
      if (seed !== null && seed.length > 0) this.refuse('a bucket permutation seed was revealed without a commitment');
      return;
    }
    if (seed === null || seed.length !== 32) this.refuse('the bucket permutation seed was not revealed');
    const expected = permutationCommitment(this.crypto, this.context.federationId, this.context.roundId, seed);
    if (!bytesEqual(expected, buckets.commitment)) this.refuse('the revealed bucket permutation seed does not match its commitment');
    const bucket = assignBuckets(buckets.cohortIds, seed, buckets.count)[this.context.bucket]!;
    if (!bucket.includes(this.clientId)) this.refuse(`the revealed permutation puts this client outside bucket ${this.context.bucket}`);
    for (const id of this.neighbourIds) if (!bucket.includes(id)) this.refuse(`neighbour ${id} is not in this client's bucket ${this.context.bucket}`);
    this.bucketMembers = new Set(bucket);
  }

  private verifyKeys(keys: AdvertisedKeys): void {
    const id = keys.clientId;
    const lengths: [string, Uint8Array, number][] = [
      ['identity key', keys.identityPublicKey, KEY_BYTES],
      ['cipher key', keys.cipherPublicKey, KEY_BYTES],
      ['mask key', keys.maskPublicKey, KEY_BYTES],
      ['self-mask commitment', keys.selfMaskCommitment, 32],
      ['signature', keys.signature, SIGNATURE_BYTES],
    ];
    for (const [name, value, length] of lengths) if (value.length !== length) this.refuse(`the ${name} of ${id} is ${value.length} bytes, not ${length}`);
    if (this.crypto.clientIdOf(keys.identityPublicKey) !== id) this.refuse(`the identity key presented for ${id} is not the one its id names`);
    const payload = advertisedKeysPayload(this.context, id, keys.cipherPublicKey, keys.maskPublicKey, keys.selfMaskCommitment);
    if (!this.crypto.verify(keys.signature, payload, keys.identityPublicKey)) this.refuse(`the keys of ${id} are not signed by its identity key (substituted?)`);
  }

  /** The AEAD key shared with a neighbour (one X25519 agreement per neighbour, reused for both directions). */
  private shareKeyWith(otherId: string): Uint8Array {
    const cached = this.shareKeyCache.get(otherId);
    if (cached !== undefined) return cached;
    const secret = this.crypto.agree(this.cipherSecretKey!, this.neighbours.get(otherId)!.keys.cipherPublicKey);
    if (secret === null) this.refuse(`the cipher key of ${otherId} is a low-order point`);
    const key = shareKey(this.crypto, this.context, secret, this.clientId, otherId);
    this.shareKeyCache.set(otherId, key);
    return key;
  }

  private readonly shareKeyCache = new Map<string, Uint8Array>();

  private checkSurvivorList(ids: readonly string[]): string[] {
    const sorted = [...ids].sort();
    if (new Set(sorted).size !== sorted.length) this.refuse('the survivor list repeats a client');
    if (!sorted.includes(this.clientId)) this.refuse('the survivor list does not contain this client');
    if (sorted.length < this.threshold) this.refuse(`only ${sorted.length} survivors; the sum of fewer than the threshold ${this.threshold} is not revealed`);
    if (this.bucketMembers !== null) for (const id of sorted) if (!this.bucketMembers.has(id)) this.refuse(`survivor ${id} is not in this client's bucket ${this.context.bucket}`);
    return sorted;
  }
}

function tryDecodeSharePlaintext(bytes: Uint8Array): ReturnType<typeof decodeSharePlaintext> | null {
  try {
    return decodeSharePlaintext(bytes);
  } catch {
    return null;
  }
}
