/**
 * The coordinator side of one secure sum, as a synchronous state machine. It routes keys and encrypted shares
 * between neighbours, adds masked inputs into one running sum as they arrive (memory O(d), not O(n·d)), and at the
 * end reconstructs exactly the secrets it may: the self-mask seed of every survivor and the mask key of every
 * partner that dropped before its masked input, never both for one client. Each stage closes at its deadline; a
 * client that has not answered is dropped, and a stage that leaves some needed secret with fewer than t live
 * share holders fails the sum with a reason naming the stage and the counts. The result is bit-exact: the sum
 * mod 2^32 of the survivors' inputs.
 */
import { CohortError } from '../errors.js';
import type { MaskTerm, SecAggContext, SecAggCrypto } from './context.js';
import { KEY_BYTES, SIGNATURE_BYTES, advertisedKeysPayload, bytesEqual, pairMaskKey, pairSign, selfMaskCommitment, selfMaskKey, survivorsPayload } from './context.js';
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
import type { Share } from './shamir.js';
import { SECRET_FIELD, decodeShare, reconstructSecret, secretToBytes } from './shamir.js';

/** Largest accepted encrypted share, bytes (two encoded shares, ids and AEAD overhead fit in far less). */
export const MAX_ENCRYPTED_SHARE_BYTES = 1024;
/** Reconstruction attempts per secret when some shares are bad (subsets tried beyond the first t). */
const MAX_RECONSTRUCTION_ATTEMPTS = 64;

export interface SecAggServerOptions {
  context: SecAggContext;
  /** The clients of this secure sum. */
  memberIds: readonly string[];
  /** Each member's neighbours (symmetric). */
  neighbours: ReadonlyMap<string, readonly string[]>;
  threshold: number;
  /** Words per masked input (d + 1 with the weight element). */
  vectorLength: number;
  crypto: SecAggCrypto;
  /** The enrolled identity key of a client: advertised keys must be signed by exactly it. */
  identityKeyOf?: (clientId: string) => Uint8Array | null;
  /** Bucketed mode: what clients check the revealed permutation against. */
  buckets?: { commitment: Uint8Array; seed: Uint8Array; cohortIds: string[]; count: number } | null;
}

/** A client the secure sum stopped counting on, and why. */
export interface SecAggDrop {
  clientId: string;
  stage: SecAggStage;
  reason: string;
  /** True for a protocol violation (bad signature, wrong length, replay), false for a missed deadline. */
  violation: boolean;
}

export type StageOutcome<T> = { ok: true; requests: Map<string, T> } | { ok: false; reason: string };

export type SumOutcome = { ok: true; sum: Uint32Array; survivorIds: string[] } | { ok: false; reason: string };

type ServerState = SecAggStage | 'done' | 'failed';

export class SecAggServer {
  private state: ServerState = 'advertise-keys';
  private readonly members: readonly string[];
  private readonly neighbours: ReadonlyMap<string, readonly string[]>;
  private readonly threshold: number;
  private readonly live: Set<string>;
  private readonly keys = new Map<string, AdvertisedKeys>();
  private readonly dealt = new Map<string, Map<string, EncryptedShare>>();
  /** Final U2: clients whose shares were delivered; each one's partners are its neighbours in it. */
  private shared = new Set<string>();
  private readonly inputs = new Set<string>();
  private survivors: string[] = [];
  private readonly signatures = new Map<string, Uint8Array>();
  private readonly revealed = new Map<string, UnmaskShares>();
  private readonly pendingDrops: SecAggDrop[] = [];
  /** "holder>owner" pairs where the holder reported the owner's share as failing authentication. */
  private readonly unusableShares = new Set<string>();
  private readonly sum: Uint32Array;
  private readonly sumView: Int32Array;
  private failure: string | null = null;

  constructor(private readonly options: SecAggServerOptions) {
    const { memberIds, neighbours, threshold, vectorLength } = options;
    if (new Set(memberIds).size !== memberIds.length || memberIds.length < 2) throw new CohortError('INVALID_ARGUMENT', 'a secure sum needs at least 2 distinct members');
    for (const id of memberIds) {
      const list = neighbours.get(id);
      if (list === undefined || list.some((n) => !memberIds.includes(n) || n === id)) throw new CohortError('INVALID_ARGUMENT', `neighbours of ${id} must be other members`);
      if (!Number.isInteger(threshold) || threshold < 1 || 2 * threshold <= list.length || threshold > list.length) {
        throw new CohortError('CONFIG_INVALID', `threshold ${threshold} must be more than half of, and at most, the ${list.length} neighbours of ${id}`);
      }
    }
    if (!Number.isInteger(vectorLength) || vectorLength < 1) throw new CohortError('INVALID_ARGUMENT', `vector length must be a positive integer, got ${vectorLength}`);
    this.members = [...memberIds].sort();
    this.neighbours = neighbours;
    this.threshold = threshold;
    this.live = new Set(memberIds);
    this.sum = new Uint32Array(vectorLength);
    this.sumView = new Int32Array(this.sum.buffer);
  }

  get stage(): ServerState {
    return this.state;
  }

  get context(): SecAggContext {
    return this.options.context;
  }

  /** Why the sum failed, once it has. */
  get failureReason(): string | null {
    return this.failure;
  }

  /** Clients still expected to answer. */
  liveClients(): string[] {
    return this.members.filter((id) => this.live.has(id));
  }

  /** Live clients that have not yet answered the current stage. */
  pendingClients(): string[] {
    return this.liveClients().filter((id) => !this.answered(id));
  }

  /** Clients whose masked input is in the sum (fixed once masked-input closes). */
  inputClients(): string[] {
    return this.state === 'masked-input' ? [...this.inputs].sort() : this.survivors.slice();
  }

  /** Drops collected since the last call (the workflow mirrors them in its participant records). */
  takeDrops(): SecAggDrop[] {
    return this.pendingDrops.splice(0);
  }

  /** Stops counting on a client (disconnect, reported failure); its input, if already added, stays in the sum. */
  drop(clientId: string, reason: string, violation = false): void {
    if (!this.live.delete(clientId)) return;
    this.pendingDrops.push({ clientId, stage: this.state === 'done' || this.state === 'failed' ? 'unmasking' : this.state, reason, violation });
  }

  advertiseRequests(): Map<string, AdvertiseKeysRequest> {
    const buckets = this.options.buckets ?? null;
    return new Map(
      this.members.map((id) => [
        id,
        {
          neighbourIds: [...this.neighbours.get(id)!],
          threshold: this.threshold,
          buckets: buckets === null ? null : { commitment: buckets.commitment, cohortIds: buckets.cohortIds, count: buckets.count },
        },
      ]),
    );
  }

  receiveAdvertisedKeys(clientId: string, keys: AdvertisedKeys): void {
    this.expect(clientId, 'advertise-keys', 'advertised keys');
    if (this.keys.has(clientId)) this.violation(clientId, 'advertised keys twice');
    if (keys.clientId !== clientId) this.violation(clientId, `advertised keys in the name of ${keys.clientId}`);
    const sizes: [string, Uint8Array, number][] = [
      ['identity key', keys.identityPublicKey, KEY_BYTES],
      ['cipher key', keys.cipherPublicKey, KEY_BYTES],
      ['mask key', keys.maskPublicKey, KEY_BYTES],
      ['self-mask commitment', keys.selfMaskCommitment, 32],
      ['signature', keys.signature, SIGNATURE_BYTES],
    ];
    for (const [name, value, length] of sizes) if (value.length !== length) this.violation(clientId, `advertised a ${name} of ${value.length} bytes, expected ${length}`);
    const enrolled = this.options.identityKeyOf?.(clientId) ?? null;
    if (enrolled !== null && !bytesEqual(enrolled, keys.identityPublicKey)) this.violation(clientId, 'advertised keys under an identity key that is not its enrolled one');
    if (this.options.crypto.clientIdOf(keys.identityPublicKey) !== clientId) this.violation(clientId, 'presented an identity key its client id does not name');
    const payload = advertisedKeysPayload(this.options.context, clientId, keys.cipherPublicKey, keys.maskPublicKey, keys.selfMaskCommitment);
    if (!this.options.crypto.verify(keys.signature, payload, keys.identityPublicKey)) this.violation(clientId, 'advertised keys with an invalid signature');
    if (bytesEqual(keys.cipherPublicKey, keys.maskPublicKey)) this.violation(clientId, 'advertised the same key for shares and masks');
    this.keys.set(clientId, keys);
  }

  closeAdvertiseKeys(): StageOutcome<ShareKeysRequest> {
    if (!this.closing('advertise-keys')) return { ok: false, reason: this.failure! };
    this.dropUnanswered('advertise-keys');
    // A client with fewer than t neighbours holding keys cannot deal its shares; dropping one may starve another.
    this.pruneBelowThreshold(() => this.live, 'advertised keys');
    const fail = this.requireClients('advertise-keys', 'advertised keys');
    if (fail !== null) return fail;
    const seed = this.options.buckets?.seed ?? null;
    const requests = new Map<string, ShareKeysRequest>();
    for (const id of this.liveClients()) {
      requests.set(id, { neighbours: this.liveNeighbours(id, this.live).map((n) => this.keys.get(n)!), permutationSeed: seed });
    }
    this.state = 'share-keys';
    return { ok: true, requests };
  }

  receiveSharedKeys(clientId: string, message: SharedKeys): void {
    this.expect(clientId, 'share-keys', 'shared keys');
    if (this.dealt.has(clientId)) this.violation(clientId, 'sent its shares twice');
    const expected = new Set(this.liveNeighboursAtAdvertise(clientId));
    const byRecipient = new Map<string, EncryptedShare>();
    for (const share of message.shares) {
      if (share.fromId !== clientId) this.violation(clientId, `sent a share in the name of ${share.fromId}`);
      if (!expected.has(share.toId)) this.violation(clientId, `sent a share to ${share.toId}, who is not one of its neighbours with keys`);
      if (byRecipient.has(share.toId)) this.violation(clientId, `sent two shares to ${share.toId}`);
      if (share.ciphertext.length < 40 || share.ciphertext.length > MAX_ENCRYPTED_SHARE_BYTES) {
        this.violation(clientId, `sent a share of ${share.ciphertext.length} bytes to ${share.toId} (expected 40..${MAX_ENCRYPTED_SHARE_BYTES})`);
      }
      byRecipient.set(share.toId, share);
    }
    if (byRecipient.size !== expected.size) this.violation(clientId, `sent shares to ${byRecipient.size} of its ${expected.size} neighbours with keys`);
    this.dealt.set(clientId, byRecipient);
  }

  closeShareKeys(): StageOutcome<MaskedInputRequest> {
    if (!this.closing('share-keys')) return { ok: false, reason: this.failure! };
    this.dropUnanswered('share-keys');
    // Partners are neighbours whose shares were delivered; each needs t of them, on both the dealing and the receiving side.
    this.pruneBelowThreshold(() => this.live, 'shared keys');
    const fail = this.requireClients('share-keys', 'shared their keys');
    if (fail !== null) return fail;
    this.shared = new Set(this.liveClients());
    const requests = new Map<string, MaskedInputRequest>();
    for (const id of this.shared) {
      requests.set(id, { shares: this.partnersOf(id).map((from) => this.dealt.get(from)!.get(id)!) });
    }
    this.state = 'masked-input';
    return { ok: true, requests };
  }

  /** Checks that a masked input from this client may be uploaded now (before any byte is read). */
  checkMaskedInput(clientId: string, length: number): void {
    this.expect(clientId, 'masked-input', 'a masked input');
    if (!this.shared.has(clientId)) this.violation(clientId, 'uploaded a masked input without having shared keys');
    if (this.inputs.has(clientId)) this.violation(clientId, 'uploaded its masked input twice');
    if (length !== this.sum.length) this.violation(clientId, `uploaded a masked input of ${length} words; expected ${this.sum.length}`);
  }

  /** Adds a masked input into the running sum. */
  receiveMaskedInput(clientId: string, masked: Uint32Array): void {
    this.checkMaskedInput(clientId, masked.length);
    const sum = this.sumView;
    const add = new Int32Array(masked.buffer, masked.byteOffset, masked.length);
    for (let i = 0; i < sum.length; i++) sum[i] = (sum[i]! + add[i]!) | 0;
    this.inputs.add(clientId);
  }

  /**
   * A client reports neighbours whose share failed authentication. The coordinator forwards shares untouched, so the
   * sender is at fault: it is dropped as a protocol violator unless its input is already in the sum (then it stays a
   * survivor, and only the report is recorded). Reports about non-partners are themselves a violation.
   */
  receiveRejectedShares(clientId: string, senderIds: readonly string[]): void {
    if (senderIds.length === 0) return;
    if (!this.members.includes(clientId) || !this.shared.has(clientId)) throw new CohortError('ROUND_NOT_SELECTED', `client ${clientId} holds no shares in this secure sum`);
    const partners = new Set(this.partnersOf(clientId));
    for (const sender of senderIds) {
      if (!partners.has(sender)) this.violation(clientId, `reported a bad share from ${sender}, who is not its partner`);
    }
    for (const sender of senderIds) {
      // The reporter holds no usable share of the sender: it must not count as one of the sender's holders.
      this.unusableShares.add(`${clientId}>${sender}`);
      if (this.inputs.has(sender) || this.state !== 'masked-input') continue;
      this.drop(sender, `protocol violation at masked-input: client ${sender} sent ${clientId} a share that failed authentication`, true);
    }
  }

  closeMaskedInput(): StageOutcome<ConsistencyCheckRequest> {
    if (!this.closing('masked-input')) return { ok: false, reason: this.failure! };
    this.dropUnanswered('masked-input');
    this.survivors = [...this.inputs].sort();
    const fail = this.requireReconstructible('masked-input', new Set(this.survivors), 'uploaded masked inputs');
    if (fail !== null) return fail;
    const requests = new Map<string, ConsistencyCheckRequest>();
    for (const id of this.liveClients()) requests.set(id, { survivorIds: this.survivors.slice() });
    this.state = 'consistency-check';
    return { ok: true, requests };
  }

  receiveConsistencySignature(clientId: string, message: ConsistencySignature): void {
    this.expect(clientId, 'consistency-check', 'a consistency signature');
    if (this.signatures.has(clientId)) this.violation(clientId, 'signed the survivor set twice');
    const payload = survivorsPayload(this.options.context, this.survivors);
    if (message.signature.length !== SIGNATURE_BYTES || !this.options.crypto.verify(message.signature, payload, this.keys.get(clientId)!.identityPublicKey)) {
      this.violation(clientId, 'sent a consistency signature that does not verify over the survivor set');
    }
    this.signatures.set(clientId, message.signature);
  }

  closeConsistencyCheck(): StageOutcome<UnmaskRequest> {
    if (!this.closing('consistency-check')) return { ok: false, reason: this.failure! };
    this.dropUnanswered('consistency-check');
    const signers = new Set(this.liveClients());
    const fail = this.requireReconstructible('consistency-check', signers, 'signed the survivor set');
    if (fail !== null) return fail;
    const survivorSet = new Set(this.survivors);
    const requests = new Map<string, UnmaskRequest>();
    for (const id of signers) {
      const signatures = new Map<string, Uint8Array>([[id, this.signatures.get(id)!]]);
      for (const n of this.neighbours.get(id)!) if (signers.has(n)) signatures.set(n, this.signatures.get(n)!);
      requests.set(id, {
        survivorIds: this.survivors.slice(),
        droppedIds: this.partnersOf(id).filter((p) => !survivorSet.has(p)),
        signatures,
      });
    }
    this.state = 'unmasking';
    return { ok: true, requests };
  }

  receiveUnmaskShares(clientId: string, message: UnmaskShares): void {
    this.expect(clientId, 'unmasking', 'unmask shares');
    if (this.revealed.has(clientId)) this.violation(clientId, 'sent its unmask shares twice');
    const survivorSet = new Set(this.survivors);
    const partners = new Set(this.partnersOf(clientId));
    const seen = new Set<string>();
    const check = (owner: string, kind: 'seed' | 'key'): void => {
      if (!partners.has(owner)) this.violation(clientId, `revealed a share of ${owner}, who is not its partner`);
      if (kind === 'seed' && !survivorSet.has(owner)) this.violation(clientId, `revealed a self-mask share of ${owner}, who is not a survivor`);
      if (kind === 'key' && survivorSet.has(owner)) this.violation(clientId, `revealed a mask-key share of ${owner}, who is a survivor`);
      if (seen.has(owner)) this.violation(clientId, `revealed two shares of ${owner}`);
      seen.add(owner);
    };
    for (const s of message.seedShares) check(s.ownerId, 'seed');
    for (const s of message.keyShares) check(s.ownerId, 'key');
    for (const s of [...message.seedShares, ...message.keyShares]) {
      if (s.share.length !== 4 + SECRET_FIELD.byteLength) this.violation(clientId, `revealed a share of ${s.share.length} bytes for ${s.ownerId}`);
    }
    this.revealed.set(clientId, message);
  }

  /** Reconstructs what it may, removes every mask, and returns the survivors' sum mod 2^32. */
  closeUnmasking(): SumOutcome {
    if (!this.closing('unmasking')) return { ok: false, reason: this.failure! };
    this.dropUnanswered('unmasking');
    const responders = new Set(this.liveClients());
    const fail = this.requireReconstructible('unmasking', responders, 'revealed their shares');
    if (fail !== null) return fail;
    const { crypto, context } = this.options;
    const survivorSet = new Set(this.survivors);
    const seedShares = new Map<string, Uint8Array[]>();
    const keyShares = new Map<string, Uint8Array[]>();
    for (const message of this.revealed.values()) {
      for (const s of message.seedShares) pushTo(seedShares, s.ownerId, s.share);
      for (const s of message.keyShares) pushTo(keyShares, s.ownerId, s.share);
    }
    const terms: MaskTerm[] = [];
    for (const owner of this.survivors) {
      const keys = this.keys.get(owner)!;
      const seed = this.reconstruct(seedShares.get(owner) ?? [], (secret) => bytesEqual(selfMaskCommitment(crypto, context, owner, secret), keys.selfMaskCommitment));
      if (seed === null) return this.fail(`unmasking: the self-mask seed of ${owner} could not be reconstructed from ${seedShares.get(owner)?.length ?? 0} shares (threshold ${this.threshold})`);
      terms.push({ key: selfMaskKey(crypto, context, owner, seed), sign: -1 });
    }
    for (const owner of this.shared) {
      if (survivorSet.has(owner)) continue;
      const survivingPartners = this.partnersOf(owner).filter((p) => survivorSet.has(p));
      if (survivingPartners.length === 0) continue;
      const keys = this.keys.get(owner)!;
      const secretKey = this.reconstruct(keyShares.get(owner) ?? [], (secret) => bytesEqual(crypto.agreementKeyPair(secret).publicKey, keys.maskPublicKey));
      if (secretKey === null) return this.fail(`unmasking: the mask key of dropped client ${owner} could not be reconstructed from ${keyShares.get(owner)?.length ?? 0} shares (threshold ${this.threshold})`);
      for (const partner of survivingPartners) {
        const secret = crypto.agree(secretKey, this.keys.get(partner)!.maskPublicKey);
        if (secret === null) return this.fail(`unmasking: the mask key of ${partner} is a low-order point`);
        // The partner added sign·PRG in its masked input; remove it.
        terms.push({ key: pairMaskKey(crypto, context, secret, partner, owner), sign: pairSign(partner, owner) === 1 ? -1 : 1 });
      }
    }
    crypto.applyMasks(this.sum, terms);
    this.state = 'done';
    return { ok: true, sum: this.sum, survivorIds: this.survivors.slice() };
  }

  // Internals.

  private answered(id: string): boolean {
    switch (this.state) {
      case 'advertise-keys':
        return this.keys.has(id);
      case 'share-keys':
        return this.dealt.has(id);
      case 'masked-input':
        return this.inputs.has(id);
      case 'consistency-check':
        return this.signatures.has(id);
      case 'unmasking':
        return this.revealed.has(id);
      default:
        return true;
    }
  }

  private expect(clientId: string, stage: SecAggStage, what: string): void {
    if (!this.members.includes(clientId)) throw new CohortError('ROUND_NOT_SELECTED', `client ${clientId} is not part of this secure sum`);
    if (!this.live.has(clientId)) throw new CohortError('ROUND_STALE', `client ${clientId} was already dropped from this secure sum`);
    if (this.state !== stage) this.violation(clientId, `sent ${what} during stage ${this.state} (expected in ${stage}): stale or replayed`);
  }

  private violation(clientId: string, reason: string): never {
    const message = `protocol violation at ${this.state}: client ${clientId} ${reason}`;
    this.drop(clientId, message, true);
    throw new CohortError('PROTOCOL_VIOLATION', message);
  }

  private closing(stage: SecAggStage): boolean {
    if (this.state === 'failed') return false;
    if (this.state !== stage) throw new CohortError('INTERNAL', `secure sum: close ${stage} called in stage ${this.state}`);
    return true;
  }

  private fail(reason: string): { ok: false; reason: string } {
    this.state = 'failed';
    this.failure = reason;
    return { ok: false, reason };
  }

  private dropUnanswered(stage: SecAggStage): void {
    for (const id of this.pendingClients()) this.drop(id, `did not answer ${stage} before its deadline`);
  }

  private liveNeighbours(id: string, among: ReadonlySet<string>): string[] {
    return this.neighbours.get(id)!.filter((n) => among.has(n));
  }

  /** Neighbours whose keys a client was sent (fixed when advertise-keys closed). */
  private liveNeighboursAtAdvertise(id: string): string[] {
    return this.neighbours.get(id)!.filter((n) => this.keys.has(n) && this.advertisedSurvivors.has(n));
  }

  private advertisedSurvivors = new Set<string>();

  private pruneBelowThreshold(among: () => Set<string>, what: string): void {
    for (let changed = true; changed; ) {
      changed = false;
      for (const id of this.liveClients()) {
        const count = this.liveNeighbours(id, among()).length;
        if (count < this.threshold) {
          this.drop(id, `only ${count} of its neighbours ${what}, below the threshold ${this.threshold}`);
          changed = true;
        }
      }
    }
    if (this.state === 'advertise-keys') this.advertisedSurvivors = new Set(this.live);
  }

  private partnersOf(id: string): string[] {
    return this.neighbours.get(id)!.filter((n) => this.shared.has(n));
  }

  private requireClients(stage: SecAggStage, what: string): { ok: false; reason: string } | null {
    const live = this.live.size;
    if (live < this.threshold + 1) return this.fail(`${stage}: only ${live} of ${this.members.length} clients ${what} (bucket ${this.options.context.bucket}); at least ${this.threshold + 1} are needed`);
    return null;
  }

  /**
   * Every secret the coordinator will need (seeds of survivors, mask keys of dropped partners) must still have at
   * least t holders among `holders`; the survivors themselves must number at least t.
   */
  private requireReconstructible(stage: SecAggStage, holders: ReadonlySet<string>, what: string): { ok: false; reason: string } | null {
    const bucket = this.options.context.bucket;
    if (this.survivors.length < this.threshold) {
      return this.fail(`${stage}: only ${this.survivors.length} of ${this.shared.size} clients uploaded masked inputs (bucket ${bucket}); the threshold is ${this.threshold}`);
    }
    const survivorSet = new Set(this.survivors);
    for (const owner of this.shared) {
      const needed = survivorSet.has(owner) || this.partnersOf(owner).some((p) => survivorSet.has(p));
      if (!needed) continue;
      const count = this.partnersOf(owner).filter((p) => holders.has(p) && !this.unusableShares.has(`${p}>${owner}`)).length;
      if (count < this.threshold) {
        return this.fail(
          `${stage}: the shares of ${survivorSet.has(owner) ? 'survivor' : 'dropped client'} ${owner} are held by only ${count} clients that ${what}, below the threshold ${this.threshold} (bucket ${bucket}: ${holders.size} of ${this.shared.size} clients ${what})`,
        );
      }
    }
    return null;
  }

  /** Lagrange reconstruction, checked; with more than t shares, subsets are tried so a few bad shares are survived. */
  private reconstruct(encoded: readonly Uint8Array[], check: (secret: Uint8Array) => boolean): Uint8Array | null {
    const shares: Share[] = [];
    const xs = new Set<number>();
    for (const bytes of encoded) {
      try {
        const share = decodeShare(bytes, SECRET_FIELD);
        if (xs.has(share.x)) continue;
        xs.add(share.x);
        shares.push(share);
      } catch {
        // A malformed share is simply not used.
      }
    }
    const t = this.threshold;
    if (shares.length < t) return null;
    let attempts = 0;
    for (const subset of subsetsOf(shares.length, t)) {
      if (attempts++ >= MAX_RECONSTRUCTION_ATTEMPTS) break;
      let secret: bigint;
      try {
        secret = reconstructSecret(subset.map((i) => shares[i]!), t, SECRET_FIELD);
      } catch {
        continue;
      }
      if (secret >= 1n << 256n) continue;
      const bytes = secretToBytes(secret);
      if (check(bytes)) return bytes;
    }
    return null;
  }
}

function pushTo(map: Map<string, Uint8Array[]>, key: string, value: Uint8Array): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** k-subsets of 0..n-1 in lexicographic order (the first is 0..k-1). */
function* subsetsOf(n: number, k: number): Generator<number[]> {
  const index = Array.from({ length: k }, (_, i) => i);
  for (;;) {
    yield index.slice();
    let i = k - 1;
    while (i >= 0 && index[i] === n - k + i) i--;
    if (i < 0) return;
    index[i]!++;
    for (let j = i + 1; j < k; j++) index[j] = index[j - 1]! + 1;
  }
}
