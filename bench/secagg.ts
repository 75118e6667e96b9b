/**
 * Section "secagg": the cost of secure aggregation (SecAgg+ over real libsodium and AES-256-CTR, no network), each
 * figure against a baseline measured in the same run:
 *  - client masking (SecAggClient.maskInput: k share decryptions and k + 1 masks over d + 1 words; the pairwise mask
 *    keys are agreed and derived earlier, at share-keys, while training runs, and are counted in the full rounds)
 *    against native generation of the same (k + 1)·(d + 1) keystream words;
 *  - coordinator unmasking (adding the survivors' masked inputs, the consistency check, Shamir reconstruction and
 *    mask regeneration) against a plaintext sum of the same vectors, and against that sum plus native generation of
 *    the keystream words the unmasking has to regenerate;
 *  - full in-process rounds (every client and the coordinator, dropouts included) in seconds, against native
 *    generation of every keystream word the round produces.
 * The coordinator cannot tell a random vector from a masked one, so the unmasking rows upload one pre-generated random
 * vector for every survivor (the same buffer re-used: the adds cost the same) and replay client messages recorded
 * once per cohort (see Transcript): only server calls are timed. Crypto operations are counted and timed throughout,
 * so each row's JSON details say what its time went to.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import type { Rng } from '../shared/src/core/rng/rng.js';
import { createSeededRng, shuffleInPlace, uniformInt } from '../shared/src/core/rng/rng.js';
import { SecAggClient } from '../shared/src/core/secagg/client.js';
import type { MaskTerm, SecAggContext, SecAggCrypto } from '../shared/src/core/secagg/context.js';
import { neighbourGraph, resolveGraphParameters } from '../shared/src/core/secagg/graph.js';
import { runSecureSumInProcess } from '../shared/src/core/secagg/in-process.js';
import type { AdvertisedKeys, ConsistencySignature, SecAggStage, SharedKeys, UnmaskShares } from '../shared/src/core/secagg/messages.js';
import { SecAggServer } from '../shared/src/core/secagg/server.js';
import { applyMasks, defaultMaskAdder, generateKeystreamOnly } from '../shared/src/crypto/mask-prg.js';
import { createSecAggCrypto, seededRandomBytes } from '../shared/src/crypto/secagg-crypto.js';
import { cryptoReady, signingKeyPairFromSeed } from '../shared/src/crypto/sodium.js';
import { clientIdFromPublicKey } from '../shared/src/protocol/identity.js';
import type { BenchRow, SectionResult } from './report.js';
import { formatNumber, row } from './report.js';
import { summarize } from './stats.js';
import type { Samples } from './stats.js';

/** DESIGN: client masking within 1.5x of generating its (k + 1)·(d + 1) keystream words natively. */
export const MASKING_AIM_RATIO = 1.5;
/** DESIGN: unmasking n = 100, d = 1M, 10% dropouts within 3x of plaintext sum + the keystream it must regenerate. */
export const UNMASKING_AIM_RATIO = 3;
/** Flower's SecAgg+ primitives on n = 50, d = 100k, k = 7, 10% dropouts, reported (not measured here), seconds. */
export const FLOWER_ROUND_SECONDS = 5;
/** Issue #3: 10x under Flower on that round, seconds. */
export const ROUND_AIM_SECONDS = FLOWER_ROUND_SECONDS / 10;
/** DESIGN: a complete-graph round of n = 100, d = 100k, seconds. */
export const COMPLETE_ROUND_AIM_SECONDS = 5;

const CONTEXT: SecAggContext = { federationId: 'bench', roundId: 'bench-secagg', bucket: 0 };
const DIMENSIONS = [100_000, 1_000_000] as const;
const MASKING_DEGREES = [8, 16] as const;
const UNMASKING_COHORTS = [10, 50, 100, 500] as const;
const DROPOUT_RATES = [0, 0.1, 0.3] as const;
/**
 * n = 500 uses degree 16 instead of the default 4·⌈log2 n⌉ = 36, to keep the section within a few minutes on two
 * cores: at 36, recording the clients' key stages takes ~30 s per dropout rate, and at 30% dropouts the unmasking
 * regenerates ~4,000 masks of d = 1M (~20 s, and as long again for its keystream baseline).
 */
const LARGE_COHORT = 500;
const LARGE_COHORT_DEGREE = 16;
const STAGES: readonly SecAggStage[] = ['advertise-keys', 'share-keys', 'masked-input', 'consistency-check', 'unmasking'];

type Identity = { publicKey: Uint8Array; secretKey: Uint8Array };

/** Repetitions: more for cheap cases, fewer where one repetition takes seconds (this machine is noisy). */
function maskingReps(d: number): number {
  return d >= 1_000_000 ? 5 : 7;
}
function unmaskingReps(n: number, d: number): number {
  if (n >= LARGE_COHORT) return 1;
  if (d >= 1_000_000) return n >= 50 ? 2 : 3;
  return n >= 100 ? 3 : 5;
}

/** `count` identities from a fixed seed (ids derived from the keys, as in production), in creation order. */
function createIdentities(count: number): Map<string, Identity> {
  const random = seededRandomBytes(new TextEncoder().encode('bench/secagg/identities'));
  const out = new Map<string, Identity>();
  for (let i = 0; i < count; i++) {
    const keys = signingKeyPairFromSeed(random(32));
    out.set(clientIdFromPublicKey(keys.publicKey), { publicKey: keys.publicKey, secretKey: keys.secretKey });
  }
  return out;
}

function firstIdentities(pool: ReadonlyMap<string, Identity>, n: number): Map<string, Identity> {
  return new Map([...pool].slice(0, n));
}

function randomWords(length: number, rng: Rng): Uint32Array {
  const v = new Uint32Array(length);
  for (let i = 0; i < length; i++) v[i] = rng.nextUint32();
  return v;
}

function randomKeys(count: number, rng: Rng): Uint8Array[] {
  return Array.from({ length: count }, () => {
    const key = new Uint8Array(32);
    for (let i = 0; i < 32; i += 4) new DataView(key.buffer).setUint32(i, rng.nextUint32());
    return key;
  });
}

/** The plaintext baseline: sum += v mod 2^32, the same loop the server runs. A function of its own so it is compiled alike. */
function addInto(sum: Int32Array, v: Int32Array): void {
  for (let i = 0; i < sum.length; i++) sum[i] = (sum[i]! + v[i]!) | 0;
}

/**
 * `count` clients to drop, in a seeded random order, skipping any whose loss would leave some client with fewer than
 * t live neighbours: every secret the unmasking needs then keeps t holders, so the sum completes (the figures are
 * those of a round that succeeds; at 30% with a sparse graph, unconstrained random dropouts would often abort it).
 */
function chooseDropouts(ids: readonly string[], neighbours: ReadonlyMap<string, readonly string[]>, threshold: number, count: number, rng: Rng): Set<string> {
  const order = [...ids];
  shuffleInPlace(rng, order);
  const live = new Map(ids.map((id) => [id, neighbours.get(id)!.length]));
  const dropped = new Set<string>();
  for (const id of order) {
    if (dropped.size >= count) break;
    // Dropped neighbours count too: their mask keys are reconstructed from shares their live neighbours hold.
    if (neighbours.get(id)!.some((n) => live.get(n)! - 1 < threshold)) continue;
    dropped.add(id);
    for (const n of neighbours.get(id)!) live.set(n, live.get(n)! - 1);
  }
  if (dropped.size < count) throw new Error(`only ${dropped.size} of ${count} dropouts fit within threshold ${threshold} among ${ids.length} clients`);
  return dropped;
}

/** Calls and milliseconds per SecAggCrypto operation, and every applyMasks call's term count and duration. */
interface CryptoProfile {
  ops: Record<string, { calls: number; ms: number }>;
  maskCalls: { terms: number; ms: number }[];
}

/** The crypto with every operation timed (~0.1 µs added to operations of 10-200 µs). */
function instrumented(crypto: SecAggCrypto): { crypto: SecAggCrypto; profile: CryptoProfile } {
  const profile: CryptoProfile = { ops: {}, maskCalls: [] };
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(crypto) as [string, (...args: unknown[]) => unknown][]) {
    wrapped[name] = (...args: unknown[]): unknown => {
      const start = performance.now();
      const out = fn(...args);
      const ms = performance.now() - start;
      const op = (profile.ops[name] ??= { calls: 0, ms: 0 });
      op.calls++;
      op.ms += ms;
      if (name === 'applyMasks') profile.maskCalls.push({ terms: (args[1] as readonly MaskTerm[]).length, ms });
      return out;
    };
  }
  return { crypto: wrapped as unknown as SecAggCrypto, profile };
}

function resetProfile(profile: CryptoProfile): void {
  for (const name of Object.keys(profile.ops)) delete profile.ops[name];
  profile.maskCalls.length = 0;
}

/** The costliest operations of a profile, e.g. "agree 5.61 s, verify 4.53 s". */
function topOps(profile: CryptoProfile, count: number, except: readonly string[] = []): string {
  return Object.entries(profile.ops)
    .filter(([name]) => !except.includes(name))
    .sort((a, b) => b[1].ms - a[1].ms)
    .slice(0, count)
    .map(([name, op]) => `${name} ${op.ms >= 1000 ? `${(op.ms / 1000).toFixed(2)} s` : `${op.ms.toFixed(op.ms >= 10 ? 0 : 1)} ms`}`)
    .join(', ');
}

function label(d: number): string {
  return d >= 1_000_000 ? `${d / 1_000_000}M` : `${d / 1000}k`;
}

// ---------------------------------------------------------------------------------------------------------------------
// Client masking.

interface MaskingResult {
  degree: number;
  dimension: number;
  threshold: number;
  maskInputMs: Samples;
  applyMasksMs: Samples;
  keystreamMs: Samples;
  /** maskInput's crypto operations in its last timed repetition. */
  maskInputOps: CryptoProfile['ops'];
}

function measureMasking(pool: ReadonlyMap<string, Identity>, baseCrypto: SecAggCrypto, k: number, d: number): MaskingResult {
  const reps = maskingReps(d);
  const rng = createSeededRng(`bench/secagg/masking/${k}/${d}`);
  const identities = firstIdentities(pool, k + 1);
  const ids = [...identities.keys()].sort();
  const { threshold } = resolveGraphParameters(k + 1, { neighbours: k });
  const neighbours = neighbourGraph(ids, k, rng);
  const { crypto, profile } = instrumented(baseCrypto);
  // k + 1 clients at masked-input on the complete graph: each is a fresh single-use state machine, enough for a
  // warm-up and every repetition.
  const server = new SecAggServer({ context: CONTEXT, memberIds: ids, neighbours, threshold, vectorLength: d + 1, crypto: baseCrypto });
  const clients = new Map(ids.map((id) => [id, new SecAggClient({ context: CONTEXT, clientId: id, identity: identities.get(id)!, crypto })]));
  for (const [id, request] of server.advertiseRequests()) server.receiveAdvertisedKeys(id, clients.get(id)!.advertiseKeys(request));
  const share = server.closeAdvertiseKeys();
  if (!share.ok) throw new Error(`masking k=${k}: ${share.reason}`);
  for (const [id, request] of share.requests) server.receiveSharedKeys(id, clients.get(id)!.shareKeys(request));
  const maskRequests = server.closeShareKeys();
  if (!maskRequests.ok) throw new Error(`masking k=${k}: ${maskRequests.reason}`);
  if (reps + 1 > ids.length) throw new Error(`masking k=${k}: ${reps + 1} clients needed, ${ids.length} keyed`);
  const input = randomWords(d + 1, rng);
  const out = new Uint32Array(d + 1);
  const maskInputMs: number[] = [];
  const applyMasksMs: number[] = [];
  const keystreamMs: number[] = [];
  let checksum = 0;
  // Warm-up (rep -1), then alternate the three so load from other processes hits them alike.
  for (let rep = -1; rep < reps; rep++) {
    const id = ids[rep + 1]!;
    const client = clients.get(id)!;
    resetProfile(profile);
    let start = performance.now();
    const masked = client.maskInput(maskRequests.requests.get(id)!, input);
    const maskMs = performance.now() - start;
    checksum = (checksum + masked[d]!) >>> 0;
    if (client.partnerIds.length !== k) throw new Error(`masking: client has ${client.partnerIds.length} partners, expected ${k}`);

    const keys = randomKeys(k + 1, rng);
    start = performance.now();
    generateKeystreamOnly(keys, d + 1);
    const baseMs = performance.now() - start;

    const terms: MaskTerm[] = keys.map((key, i) => ({ key, sign: i % 2 === 0 ? 1 : -1 }));
    start = performance.now();
    applyMasks(out, terms);
    const applyMs = performance.now() - start;
    checksum = (checksum + out[d]!) >>> 0;
    if (rep >= 0) {
      maskInputMs.push(maskMs);
      keystreamMs.push(baseMs);
      applyMasksMs.push(applyMs);
    }
  }
  void checksum;
  return {
    degree: k,
    dimension: d,
    threshold,
    maskInputMs: summarize(maskInputMs),
    applyMasksMs: summarize(applyMasksMs),
    keystreamMs: summarize(keystreamMs),
    maskInputOps: structuredClone(profile.ops),
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Coordinator unmasking.

/**
 * Every client message of one secure sum with a fixed dropout set, recorded once against a server of 1-word vectors.
 * None of them depends on d (masked inputs aside), so fresh servers of any d replay them: the server does exactly
 * the work it would do with live clients (it verifies every signature, reconstructs from real shares), while the
 * costly client side (key agreement, AEAD, Shamir) runs once per cohort and dropout rate, outside every timing.
 */
interface Transcript {
  n: number;
  dropoutRate: number;
  identities: Map<string, Identity>;
  ids: string[];
  neighbours: Map<string, string[]>;
  degree: number;
  threshold: number;
  survivors: string[];
  advertised: Map<string, AdvertisedKeys>;
  shared: Map<string, SharedKeys>;
  signatures: Map<string, ConsistencySignature>;
  unmaskShares: Map<string, UnmaskShares>;
  recordMs: number;
}

function recordTranscript(pool: ReadonlyMap<string, Identity>, clientCrypto: SecAggCrypto, serverCrypto: SecAggCrypto, n: number, rate: number): Transcript {
  const start = performance.now();
  const rng = createSeededRng(`bench/secagg/unmasking/${n}/${rate}`);
  const identities = firstIdentities(pool, n);
  const ids = [...identities.keys()].sort();
  const { degree, threshold } = resolveGraphParameters(n, n >= LARGE_COHORT ? { neighbours: LARGE_COHORT_DEGREE } : {});
  const neighbours = neighbourGraph(ids, degree, rng);
  const dropped = chooseDropouts(ids, neighbours, threshold, Math.round(rate * n), rng);
  const survivors = ids.filter((id) => !dropped.has(id));
  const server = new SecAggServer({ context: CONTEXT, memberIds: ids, neighbours, threshold, vectorLength: 1, crypto: serverCrypto, identityKeyOf: (id) => identities.get(id)?.publicKey ?? null });
  const clients = new Map(ids.map((id) => [id, new SecAggClient({ context: CONTEXT, clientId: id, identity: identities.get(id)!, crypto: clientCrypto })]));
  const fail = (reason: string): never => {
    throw new Error(`unmasking n=${n}, drop ${rate * 100}%: recording failed: ${reason}`);
  };
  const advertised = new Map<string, AdvertisedKeys>();
  for (const [id, request] of server.advertiseRequests()) {
    advertised.set(id, clients.get(id)!.advertiseKeys(request));
    server.receiveAdvertisedKeys(id, advertised.get(id)!);
  }
  const share = server.closeAdvertiseKeys();
  if (!share.ok) return fail(share.reason);
  const shared = new Map<string, SharedKeys>();
  for (const [id, request] of share.requests) {
    shared.set(id, clients.get(id)!.shareKeys(request));
    server.receiveSharedKeys(id, shared.get(id)!);
  }
  const masked = server.closeShareKeys();
  if (!masked.ok) return fail(masked.reason);
  // Dropped clients never upload; survivors mask a 1-word input (the server's vectors here are 1 word).
  for (const id of survivors) server.receiveMaskedInput(id, clients.get(id)!.maskInput(masked.requests.get(id)!, new Uint32Array(1)));
  const consistency = server.closeMaskedInput();
  if (!consistency.ok) return fail(consistency.reason);
  const signatures = new Map<string, ConsistencySignature>();
  for (const [id, request] of consistency.requests) {
    signatures.set(id, clients.get(id)!.consistencyCheck(request));
    server.receiveConsistencySignature(id, signatures.get(id)!);
  }
  const unmask = server.closeConsistencyCheck();
  if (!unmask.ok) return fail(unmask.reason);
  const unmaskShares = new Map<string, UnmaskShares>();
  for (const [id, request] of unmask.requests) {
    unmaskShares.set(id, clients.get(id)!.unmask(request));
    server.receiveUnmaskShares(id, unmaskShares.get(id)!);
  }
  const outcome = server.closeUnmasking();
  if (!outcome.ok) return fail(outcome.reason);
  return { n, dropoutRate: rate, identities, ids, neighbours, degree, threshold, survivors, advertised, shared, signatures, unmaskShares, recordMs: performance.now() - start };
}

interface UnmaskingResult {
  n: number;
  dimension: number;
  dropoutRate: number;
  degree: number;
  threshold: number;
  survivors: number;
  /** Mask terms the unmasking regenerated: survivors' self masks + pairwise masks of dropped partners. */
  regeneratedTerms: number;
  reps: number;
  /** The server from the first masked input to the unmasked sum: adds, consistency check, reconstruction, regeneration. */
  serverMs: Samples;
  receiveInputsMs: Samples;
  /** closeUnmasking's applyMasks call (the regeneration). */
  regenerateMs: Samples;
  /** Server time outside the adds and the regeneration: signatures, Shamir reconstruction, key agreements. */
  otherMs: Samples;
  plainSumMs: Samples;
  keystreamMs: Samples;
  plainPlusKeystreamMs: Samples;
  /** The server's crypto operations in the last repetition. */
  serverOps: CryptoProfile['ops'];
  /** Recording the cohort's client messages (once per n and dropout rate, shared by both d). */
  recordMs: number;
}

function measureUnmasking(transcript: Transcript, baseCrypto: SecAggCrypto, d: number, vector: Uint32Array, warmup: boolean): UnmaskingResult {
  const { n, ids, identities, neighbours, threshold, survivors } = transcript;
  const reps = unmaskingReps(n, d);
  const rng = createSeededRng(`bench/secagg/unmasking/${n}/${transcript.dropoutRate}/${d}`);
  const input = vector.subarray(0, d + 1);
  const inputView = new Int32Array(input.buffer, input.byteOffset, input.length);
  const samples = { server: [] as number[], receive: [] as number[], regenerate: [] as number[], other: [] as number[], plain: [] as number[], keystream: [] as number[] };
  let regeneratedTerms = -1;
  let checksum = 0;
  const { crypto, profile } = instrumented(baseCrypto);
  for (let rep = warmup ? -1 : 0; rep < reps; rep++) {
    // A fresh server through the key stages on the recorded messages (not timed).
    const server = new SecAggServer({ context: CONTEXT, memberIds: ids, neighbours, threshold, vectorLength: d + 1, crypto, identityKeyOf: (id) => identities.get(id)?.publicKey ?? null });
    for (const id of ids) server.receiveAdvertisedKeys(id, transcript.advertised.get(id)!);
    const share = server.closeAdvertiseKeys();
    if (!share.ok) throw new Error(`unmasking n=${n}: replay: ${share.reason}`);
    for (const id of ids) server.receiveSharedKeys(id, transcript.shared.get(id)!);
    const masked = server.closeShareKeys();
    if (!masked.ok) throw new Error(`unmasking n=${n}: replay: ${masked.reason}`);
    resetProfile(profile);

    // Timed: every server call from the first masked input to the sum, back to back.
    let start = performance.now();
    for (const id of survivors) server.receiveMaskedInput(id, input);
    const receiveMs = performance.now() - start;
    const consistency = server.closeMaskedInput();
    for (const [id, signature] of transcript.signatures) server.receiveConsistencySignature(id, signature);
    const unmask = server.closeConsistencyCheck();
    for (const [id, shares] of transcript.unmaskShares) server.receiveUnmaskShares(id, shares);
    const outcome = server.closeUnmasking();
    const serverMs = performance.now() - start;
    for (const stage of [consistency, unmask, outcome]) if (!stage.ok) throw new Error(`unmasking n=${n}: ${stage.reason}`);
    if (!outcome.ok || outcome.survivorIds.length !== survivors.length) throw new Error(`unmasking n=${n}: the survivors differ from the recording`);
    if (profile.maskCalls.length !== 1) throw new Error(`unmasking n=${n}: expected one applyMasks call on the server, saw ${profile.maskCalls.length}`);
    const regenerate = profile.maskCalls[0]!;
    regeneratedTerms = regenerate.terms;
    checksum = (checksum + outcome.sum[d]!) >>> 0;

    // Baselines, same run: the plaintext sum of the same (surviving) vectors, then the keystream the unmasking regenerated.
    const sum = new Int32Array(d + 1);
    start = performance.now();
    for (let c = 0; c < survivors.length; c++) addInto(sum, inputView);
    const plainMs = performance.now() - start;
    checksum = (checksum + sum[d]!) >>> 0;
    const keys = randomKeys(regeneratedTerms, rng);
    start = performance.now();
    generateKeystreamOnly(keys, d + 1);
    const keystreamMs = performance.now() - start;

    if (rep < 0) continue;
    samples.server.push(serverMs);
    samples.receive.push(receiveMs);
    samples.regenerate.push(regenerate.ms);
    samples.other.push(serverMs - receiveMs - regenerate.ms);
    samples.plain.push(plainMs);
    samples.keystream.push(keystreamMs);
  }
  void checksum;
  return {
    n,
    dimension: d,
    dropoutRate: transcript.dropoutRate,
    degree: transcript.degree,
    threshold,
    survivors: survivors.length,
    regeneratedTerms,
    reps,
    serverMs: summarize(samples.server),
    receiveInputsMs: summarize(samples.receive),
    regenerateMs: summarize(samples.regenerate),
    otherMs: summarize(samples.other),
    plainSumMs: summarize(samples.plain),
    keystreamMs: summarize(samples.keystream),
    plainPlusKeystreamMs: summarize(samples.plain.map((p, i) => p + samples.keystream[i]!)),
    serverOps: structuredClone(profile.ops),
    recordMs: transcript.recordMs,
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Full rounds.

interface RoundConfig {
  name: string;
  n: number;
  d: number;
  /** Neighbour degree; n − 1 is the complete graph. */
  degree: number;
  dropoutRate: number;
  reps: number;
  aimSeconds: number;
  aimNote: string;
}

interface RoundResult {
  config: RoundConfig;
  threshold: number;
  dropAt: Record<string, SecAggStage>;
  survivors: number;
  roundMs: Samples;
  /** Time inside applyMasks (clients' masking + the server's regeneration). */
  applyMasksMs: Samples;
  /** Everything else: key agreement, signatures, AEAD, randomness, Shamir split and reconstruction, the server's adds. */
  otherMs: Samples;
  /** Native generation of every keystream word the round produced, call for call. */
  keystreamMs: Samples;
  keystreamWords: number;
  /** Crypto operations of the whole round (every client and the server) in the last repetition. */
  ops: CryptoProfile['ops'];
}

function measureRound(pool: ReadonlyMap<string, Identity>, baseCrypto: SecAggCrypto, config: RoundConfig): RoundResult {
  const { n, d } = config;
  const rng = createSeededRng(`bench/secagg/round/${config.name}`);
  const identities = firstIdentities(pool, n);
  const ids = [...identities.keys()].sort();
  const { degree, threshold } = resolveGraphParameters(n, { neighbours: config.degree });
  const neighbours = neighbourGraph(ids, degree, rng);
  // Dropouts at seeded random stages, each client keeping t live neighbours, so the round completes.
  const dropped = chooseDropouts(ids, neighbours, threshold, Math.round(config.dropoutRate * n), rng);
  const dropAt = new Map([...dropped].map((id) => [id, STAGES[uniformInt(rng, STAGES.length)]!]));
  const inputs = new Map(ids.map((id) => [id, randomWords(d + 1, rng)]));
  const expectedSurvivors = ids.filter((id) => !['advertise-keys', 'share-keys', 'masked-input'].includes(dropAt.get(id) ?? ''));
  const expected = new Int32Array(d + 1);
  for (const id of expectedSurvivors) addInto(expected, new Int32Array(inputs.get(id)!.buffer));
  const { crypto, profile } = instrumented(baseCrypto);
  const roundMs: number[] = [];
  const applyMs: number[] = [];
  const keystreamMs: number[] = [];
  let keystreamWords = 0;
  for (let rep = 0; rep < config.reps; rep++) {
    resetProfile(profile);
    let start = performance.now();
    const result = runSecureSumInProcess({ context: CONTEXT, identities, neighbours, threshold, inputs, crypto, dropAt });
    const ms = performance.now() - start;
    if (!result.outcome.ok) throw new Error(`round ${config.name}: ${result.outcome.reason}`);
    const sum = new Int32Array(result.outcome.sum.buffer, result.outcome.sum.byteOffset, result.outcome.sum.length);
    if (result.outcome.survivorIds.length !== expectedSurvivors.length || sum.some((v, i) => v !== expected[i])) throw new Error(`round ${config.name}: the unmasked sum is not the survivors' sum`);
    // Baseline: the same keystream, call for call (same key counts and lengths), generated natively.
    start = performance.now();
    for (const call of profile.maskCalls) generateKeystreamOnly(randomKeys(call.terms, rng), d + 1);
    keystreamMs.push(performance.now() - start);
    keystreamWords = profile.maskCalls.reduce((s, c) => s + c.terms * (d + 1), 0);
    roundMs.push(ms);
    applyMs.push(profile.ops['applyMasks']?.ms ?? 0);
  }
  return {
    config,
    threshold,
    dropAt: Object.fromEntries(dropAt),
    survivors: expectedSurvivors.length,
    roundMs: summarize(roundMs),
    applyMasksMs: summarize(applyMs),
    otherMs: summarize(roundMs.map((r, i) => r - applyMs[i]!)),
    keystreamMs: summarize(keystreamMs),
    keystreamWords,
    ops: structuredClone(profile.ops),
  };
}

// ---------------------------------------------------------------------------------------------------------------------

export async function runSecaggSection(log: (line: string) => void): Promise<SectionResult> {
  await cryptoReady();
  // Production crypto: libsodium (X25519, XChaCha20-Poly1305, Ed25519, randombytes) and node:crypto (HKDF, AES-CTR).
  const crypto = createSecAggCrypto();
  // The unmasking cohorts' clients run outside every timing; their keys, seeds and Shamir coefficients come from
  // node:crypto's CSPRNG, as libsodium.js's randombytes_buf costs ~6 µs a byte here and would only slow the set-up.
  // The server never draws randomness, so what is timed is unchanged.
  const setupCrypto = createSecAggCrypto({ randomBytes: (length) => nodeRandomBytes(length) });
  const pool = createIdentities(Math.max(LARGE_COHORT, ...MASKING_DEGREES.map((k) => k + 1)));
  const rows: BenchRow[] = [];
  const vector = randomWords(Math.max(...DIMENSIONS) + 1, createSeededRng('bench/secagg/vector'));

  const masking: MaskingResult[] = [];
  for (const d of DIMENSIONS) {
    for (const k of MASKING_DEGREES) {
      const r = measureMasking(pool, crypto, k, d);
      masking.push(r);
      const fixed = topOps({ ops: r.maskInputOps, maskCalls: [] }, 3, ['applyMasks']);
      log(`secagg: maskInput k=${k} d=${label(d)} ${r.maskInputMs.median.toFixed(1)} ms (besides applyMasks: ${fixed}), applyMasks ${r.applyMasksMs.median.toFixed(1)} ms, keystream ${r.keystreamMs.median.toFixed(1)} ms`);
      const baseline = { name: `keystream ${k + 1} x ${label(d)}`, value: r.keystreamMs.median };
      const reps = r.maskInputMs.samples.length;
      const ratio = r.maskInputMs.median / r.keystreamMs.median;
      rows.push(row(`client maskInput k=${k}, d=${label(d)}`, r.maskInputMs.median, 'ms', baseline, `aim <= ${MASKING_AIM_RATIO}x${ratio > MASKING_AIM_RATIO ? ` (MISSED; besides masks: ${fixed})` : ''}; median of ${reps}`));
      rows.push(row(`  applyMasks alone, ${k + 1} keys`, r.applyMasksMs.median, 'ms', baseline, `median of ${reps}`));
    }
  }

  const unmasking: UnmaskingResult[] = [];
  for (const n of UNMASKING_COHORTS) {
    for (const rate of DROPOUT_RATES) {
      const transcript = recordTranscript(pool, setupCrypto, crypto, n, rate);
      log(`secagg: unmask n=${n} drop=${rate * 100}%: client messages recorded in ${transcript.recordMs.toFixed(0)} ms (k=${transcript.degree}, t=${transcript.threshold})`);
      for (const d of DIMENSIONS) {
        const r = measureUnmasking(transcript, crypto, d, vector, n === UNMASKING_COHORTS[0]);
        unmasking.push(r);
        log(
          `secagg: unmask n=${n} d=${label(d)} drop=${rate * 100}% server ${r.serverMs.median.toFixed(0)} ms (adds ${r.receiveInputsMs.median.toFixed(0)}, regen ${r.regenerateMs.median.toFixed(0)} for ${r.regeneratedTerms} terms, other ${r.otherMs.median.toFixed(0)}), plain sum ${r.plainSumMs.median.toFixed(0)} ms, keystream ${r.keystreamMs.median.toFixed(0)} ms`,
        );
      }
    }
  }
  // Rows by n, then d, then dropout rate.
  const ordered = [...unmasking].sort((a, b) => a.n - b.n || a.dimension - b.dimension || a.dropoutRate - b.dropoutRate);
  for (const r of ordered) {
    const second = (r.serverMs.median / r.plainPlusKeystreamMs.median).toFixed(2);
    const graph = r.degree === r.n - 1 ? 'complete graph' : `k=${r.degree}${r.n >= LARGE_COHORT ? ' (capped)' : ''}`;
    rows.push(
      row(
        `unmask n=${r.n}, d=${label(r.dimension)}, drop ${r.dropoutRate * 100}%`,
        r.serverMs.median,
        'ms',
        { name: `plain sum of ${r.survivors}`, value: r.plainSumMs.median },
        `${graph}, t=${r.threshold}; ${r.regeneratedTerms} masks regenerated; vs sum+keystream ${second}x; median of ${r.reps}`,
      ),
    );
  }
  const design = unmasking.find((r) => r.n === 100 && r.dimension === 1_000_000 && r.dropoutRate === 0.1)!;
  const designRatio = design.serverMs.median / design.plainPlusKeystreamMs.median;
  rows.push(
    row(
      'unmask n=100, d=1M, drop 10% (design)',
      design.serverMs.median,
      'ms',
      { name: `plain sum + keystream ${design.regeneratedTerms} x 1M`, value: design.plainPlusKeystreamMs.median },
      `aim <= ${UNMASKING_AIM_RATIO}x${designRatio > UNMASKING_AIM_RATIO ? ' (MISSED)' : ''}; median of ${design.reps}`,
    ),
  );

  const roundConfigs: RoundConfig[] = [
    { name: 'n50-k7', n: 50, d: 100_000, degree: 7, dropoutRate: 0.1, reps: 3, aimSeconds: ROUND_AIM_SECONDS, aimNote: `aim <= ${ROUND_AIM_SECONDS} s (Flower SecAgg+ ~${FLOWER_ROUND_SECONDS} s, reported)` },
    { name: 'n100-complete', n: 100, d: 100_000, degree: 99, dropoutRate: 0.1, reps: 1, aimSeconds: COMPLETE_ROUND_AIM_SECONDS, aimNote: `aim <= ${COMPLETE_ROUND_AIM_SECONDS} s` },
  ];
  const rounds: RoundResult[] = [];
  for (const config of roundConfigs) {
    const r = measureRound(pool, crypto, config);
    rounds.push(r);
    const heaviest = topOps({ ops: r.ops, maskCalls: [] }, 3, ['applyMasks']);
    log(`secagg: round ${config.name} ${r.roundMs.median.toFixed(0)} ms (applyMasks ${r.applyMasksMs.median.toFixed(0)}, other ${r.otherMs.median.toFixed(0)}: ${heaviest}), keystream ${r.keystreamMs.median.toFixed(0)} ms`);
    const seconds = r.roundMs.median / 1000;
    const graph = config.degree === config.n - 1 ? 'complete graph' : `k=${config.degree}`;
    rows.push(
      row(
        `full round n=${config.n}, d=${label(config.d)}, ${graph}, drop ${config.dropoutRate * 100}%`,
        seconds,
        's',
        { name: `keystream ${formatNumber(r.keystreamWords / 1e6)}M words`, value: r.keystreamMs.median / 1000 },
        `${config.aimNote}${seconds > config.aimSeconds ? ` (MISSED; heaviest besides masks: ${heaviest})` : ''}; t=${r.threshold}; median of ${config.reps}`,
      ),
    );
  }

  return {
    section: 'secagg',
    title: 'Secure aggregation (SecAgg+, libsodium + AES-256-CTR masks, in process, no network)',
    ratioMeaning: 'measurement / baseline measured in the same run (lower is better); baselines: native keystream of the same words, plaintext mod-2^32 sum of the same vectors',
    rows,
    parameters: {
      dimensions: DIMENSIONS,
      vectorLength: 'd + 1 (the weight word)',
      maskingDegrees: MASKING_DEGREES,
      unmaskingCohorts: UNMASKING_COHORTS,
      dropoutRates: DROPOUT_RATES,
      largeCohortDegree: LARGE_COHORT_DEGREE,
      maskCipher: 'aes-256-ctr',
      maskAdder: defaultMaskAdder(),
      dropouts: 'seeded random order, kept within the threshold (every needed secret keeps t live holders)',
      unmasking:
        'client messages recorded once per (n, dropout rate), replayed to a fresh server per (d, repetition); one random vector uploaded for every survivor; timed from the first masked input to the unmasked sum; plain-sum baseline adds the same vector once per survivor',
      rounds: roundConfigs,
      flowerRoundSecondsReported: FLOWER_ROUND_SECONDS,
    },
    details: { masking, unmasking: ordered, rounds },
  };
}
