import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { canonicalJson, sha256Hex } from './canonical.ts';
import { AttributionError } from './errors.ts';
import type { GradientSet } from './grad-store.ts';
import { contributorInfluence, type InfluenceMethodName, influenceMethod } from './influence.ts';
import type { SpanIndex } from './span-index.ts';
import {
  DEFAULT_SPAN_PARAMS,
  type SpanParams,
  selectSpans,
  spanContributorScores,
  validateSpanParams,
} from './spans.ts';

/**
 * Receipts: the record of one attribution, content-addressed and batchable under a Merkle root.
 *
 * Policy by model kind:
 *   base             → span        (large base model: verbatim spans of its training corpus)
 *   small-adapter    → gradient    (small fine-tuned adapter: influence from its gradient store)
 *   adapter-on-base  → span+gradient (both; contributor shares mixed by `spanWeight`)
 *
 * Contributor weights. Each method gives a raw score per contributor (span: `spanContributorScores`;
 * gradient: Σ of its examples' influences). Scores ≤ 0 are dropped and the rest normalised over the
 * positive mass: p(a) = s(a)⁺ / Σ_b s(b)⁺. With both methods, w(a) = α p_span(a) + (1 − α) p_grad(a)
 * (α = spanWeight; a method with no positive score is left out and the other gets weight 1). Then
 * contributors with w(a) < minInfluence are dropped, the topK largest kept (ties by address), and
 * the weights renormalised to sum to 1 and rounded to 9 decimals.
 *
 * Id. `id` = 0x SHA-256 of the canonical JSON of the receipt without `id` and `createdAt` (the
 * timestamp stays outside the hash so recomputation is deterministic). A bytes32, it is the leaf
 * of an OpenZeppelin StandardMerkleTree with leaf encoding ['bytes32'].
 */
export type ModelKind = 'base' | 'small-adapter' | 'adapter-on-base';
export type AttributionMethod = 'span' | 'gradient' | 'span+gradient';

export interface AttributionPolicy {
  /** Minimum contributor share (of positive influence) to be listed, in [0, 1). */
  minInfluence: number;
  /** At most this many contributors per receipt. */
  topK: number;
  span: SpanParams;
  gradient: GradientPolicy;
  /** α: share of the span method when both are used, in [0, 1]. */
  spanWeight: number;
}

/** Gradient-attribution settings; `perEntry` and `inverse` as in DataInfOptions. */
export interface GradientPolicy {
  method: InfluenceMethodName;
  dampingScale: number;
  perEntry?: boolean;
  inverse?: 'datainf' | 'exact';
}

/**
 * DataInf with the damping rule of the DataInf paper (λ_l = 0.1 · mean squared gradient entry of
 * layer l, `perEntry`) and the exact damped per-layer inverse: the variant `npm run
 * bench:attribution-quality` measured best (packages/attribution/README.md, "DataInf").
 */
export const DEFAULT_POLICY: AttributionPolicy = {
  minInfluence: 0.001,
  topK: 20,
  span: DEFAULT_SPAN_PARAMS,
  gradient: { method: 'datainf', dampingScale: 0.1, perEntry: true, inverse: 'exact' },
  spanWeight: 0.5,
};

/**
 * The policy a receipt was computed with, from its recorded params, so that it can be recomputed
 * after the defaults change. Receipts written before `perEntry` / `inverse` were recorded used the
 * closed form with λ_l = 0.1 · mean ‖g_l‖².
 */
export function policyOfReceipt(r: Receipt): AttributionPolicy {
  const p = r.params as Partial<Record<keyof AttributionPolicy, unknown>>;
  const g = p.gradient as Partial<GradientPolicy> | undefined;
  return validatePolicy({
    ...(typeof p.minInfluence === 'number' ? { minInfluence: p.minInfluence } : {}),
    ...(typeof p.topK === 'number' ? { topK: p.topK } : {}),
    ...(typeof p.spanWeight === 'number' ? { spanWeight: p.spanWeight } : {}),
    ...(p.span && typeof p.span === 'object' ? { span: p.span as SpanParams } : {}),
    ...(g
      ? {
          gradient: {
            method: g.method ?? DEFAULT_POLICY.gradient.method,
            dampingScale: g.dampingScale ?? DEFAULT_POLICY.gradient.dampingScale,
            perEntry: g.perEntry ?? false,
            inverse: g.inverse ?? 'datainf',
          },
        }
      : {}),
  });
}

export function methodForModel(kind: ModelKind): AttributionMethod {
  if (kind === 'base') return 'span';
  if (kind === 'small-adapter') return 'gradient';
  if (kind === 'adapter-on-base') return 'span+gradient';
  throw new AttributionError(
    'INVALID_PARAM',
    `modelKind must be base, small-adapter or adapter-on-base, got ${String(kind)}`,
  );
}

export function validatePolicy(p: Partial<AttributionPolicy> = {}): AttributionPolicy {
  const out: AttributionPolicy = {
    ...DEFAULT_POLICY,
    ...p,
    span: validateSpanParams({ ...DEFAULT_POLICY.span, ...(p.span ?? {}) }),
    gradient: { ...DEFAULT_POLICY.gradient, ...(p.gradient ?? {}) },
  };
  if (!(out.minInfluence >= 0 && out.minInfluence < 1)) {
    throw new AttributionError(
      'INVALID_PARAM',
      `policy.minInfluence must be in [0, 1), got ${out.minInfluence}`,
    );
  }
  if (!Number.isInteger(out.topK) || out.topK < 1 || out.topK > 1000) {
    throw new AttributionError(
      'INVALID_PARAM',
      `policy.topK must be an integer in [1, 1000], got ${out.topK}`,
    );
  }
  if (!(out.spanWeight >= 0 && out.spanWeight <= 1)) {
    throw new AttributionError('INVALID_PARAM', `policy.spanWeight must be in [0, 1], got ${out.spanWeight}`);
  }
  if (!['datainf', 'grad-dot', 'tracin'].includes(out.gradient.method)) {
    throw new AttributionError('INVALID_PARAM', `policy.gradient.method must be datainf, grad-dot or tracin`);
  }
  if (!(out.gradient.dampingScale > 0)) {
    throw new AttributionError('INVALID_PARAM', `policy.gradient.dampingScale must be > 0`);
  }
  if (out.gradient.inverse !== undefined && !['datainf', 'exact'].includes(out.gradient.inverse)) {
    throw new AttributionError('INVALID_PARAM', `policy.gradient.inverse must be datainf or exact`);
  }
  return out;
}

export interface ReceiptSpan {
  start: number;
  end: number;
  text?: string;
  rowIds: string[];
  count: number;
}

export interface Receipt {
  version: 1;
  id: string;
  modelId: string;
  inputHash: string;
  outputHash: string;
  method: AttributionMethod;
  params: Record<string, unknown>;
  contributors: { address: string; weight: number }[];
  spans: ReceiptSpan[];
  createdAt?: string;
}

/** Positive-part normalisation: p(a) = max(s(a), 0) / Σ max(s(b), 0); empty if nothing is positive. */
export function normalisePositive(scores: Map<string, number>): Map<string, number> {
  let total = 0;
  for (const v of scores.values()) if (v > 0) total += v;
  const out = new Map<string, number>();
  if (!(total > 0)) return out;
  for (const [a, v] of scores) if (v > 0) out.set(a, v / total);
  return out;
}

/** Combines method shares, applies minInfluence and topK, renormalises and rounds (see file comment). */
export function contributorWeights(
  parts: { shares: Map<string, number>; weight: number }[],
  policy: Pick<AttributionPolicy, 'minInfluence' | 'topK'>,
): { address: string; weight: number }[] {
  const live = parts.filter((p) => p.shares.size > 0 && p.weight > 0);
  const wsum = live.reduce((a, p) => a + p.weight, 0);
  const combined = new Map<string, number>();
  for (const p of live) {
    for (const [a, s] of p.shares) combined.set(a, (combined.get(a) ?? 0) + (s * p.weight) / wsum);
  }
  const kept = [...combined.entries()]
    .filter(([, w]) => w >= policy.minInfluence && w > 0)
    .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
    .slice(0, policy.topK);
  const total = kept.reduce((a, [, w]) => a + w, 0);
  return kept.map(([address, w]) => ({ address, weight: Math.round((w / total) * 1e9) / 1e9 }));
}

/** Content id of a receipt: 0x SHA-256 of canonical JSON without `id` and `createdAt`. */
export function receiptId(receipt: Omit<Receipt, 'id'> & { id?: string }): string {
  const { id: _id, createdAt: _c, ...body } = receipt;
  return sha256Hex(canonicalJson(body));
}

export interface AttributeRequest {
  modelId: string;
  modelKind: ModelKind;
  /** Prompt text (hashed into the receipt). */
  input: string;
  /** Output text (hashed into the receipt). */
  output: string;
  /** Output token ids (span method). */
  outputTokens?: ArrayLike<number>;
  /** Whether each output token starts a word (span method; default all). */
  wordStart?: ArrayLike<boolean>;
  /** Decodes output tokens to text for spans (optional; adds `text` to each span). */
  decode?: (tokens: number[]) => string;
  spanIndex?: SpanIndex;
  /** Projected training gradients (gradient method). */
  gradients?: GradientSet;
  /** Projected test-loss gradient per checkpoint of the output (gradient method). */
  testGradients?: readonly Float32Array[];
  policy?: Partial<AttributionPolicy>;
  createdAt?: string;
}

/** Runs the attribution chosen by the policy for this model kind and returns a receipt. */
export function attribute(req: AttributeRequest): Receipt {
  if (typeof req.modelId !== 'string' || req.modelId.length === 0 || req.modelId.length > 256) {
    throw new AttributionError('INVALID_PARAM', 'modelId must be a string of 1–256 characters');
  }
  if (typeof req.input !== 'string' || typeof req.output !== 'string') {
    throw new AttributionError('INVALID_PARAM', 'input and output must be strings');
  }
  const policy = validatePolicy(req.policy);
  const method = methodForModel(req.modelKind);
  const parts: { shares: Map<string, number>; weight: number }[] = [];
  const spans: ReceiptSpan[] = [];
  const params: Record<string, unknown> = { minInfluence: policy.minInfluence, topK: policy.topK };
  if (method !== 'gradient') {
    if (!req.spanIndex || !req.outputTokens) {
      throw new AttributionError('MISSING_INPUT', `method ${method} needs spanIndex and outputTokens`);
    }
    const matched = selectSpans(req.spanIndex, req.outputTokens, policy.span, req.wordStart);
    for (const s of matched) {
      const span: ReceiptSpan = { start: s.start, end: s.end, rowIds: s.rowIds, count: s.count };
      if (req.decode)
        span.text = req.decode(
          Array.from({ length: s.end - s.start }, (_, k) => req.outputTokens![s.start + k]),
        );
      spans.push(span);
    }
    parts.push({
      shares: normalisePositive(spanContributorScores(req.spanIndex, matched)),
      weight: method === 'span' ? 1 : policy.spanWeight,
    });
    params.span = { ...policy.span };
  }
  if (method !== 'span') {
    if (!req.gradients || !req.testGradients) {
      throw new AttributionError('MISSING_INPUT', `method ${method} needs gradients and testGradients`);
    }
    const { dampingScale, perEntry, inverse } = policy.gradient;
    const m = influenceMethod(policy.gradient.method, { dampingScale, perEntry, inverse });
    const scores = m.scores(req.gradients, req.testGradients);
    parts.push({
      shares: normalisePositive(contributorInfluence(req.gradients, scores)),
      weight: method === 'gradient' ? 1 : 1 - policy.spanWeight,
    });
    // perEntry / inverse are recorded only when they differ from the closed form of receipts written
    // before they existed, so those receipts still hash and recompute the same
    params.gradient = {
      method: policy.gradient.method,
      dampingScale,
      ...(perEntry ? { perEntry: true } : {}),
      ...(inverse === 'exact' ? { inverse } : {}),
      ...(req.gradients.projection ? { projection: req.gradients.projection } : {}),
    };
  }
  if (method === 'span+gradient') params.spanWeight = policy.spanWeight;
  const body: Omit<Receipt, 'id'> = {
    version: 1,
    modelId: req.modelId,
    inputHash: sha256Hex(req.input),
    outputHash: sha256Hex(req.output),
    method,
    params,
    contributors: contributorWeights(parts, policy),
    spans,
  };
  const receipt: Receipt = { ...body, id: receiptId(body) };
  if (req.createdAt !== undefined) receipt.createdAt = req.createdAt;
  return receipt;
}

const HEX32 = /^0x[0-9a-f]{64}$/;

/** Checks the shape of an untrusted receipt (throws AttributionError naming the field). */
export function parseReceipt(value: unknown): Receipt {
  const bad = (field: string, why: string): never => {
    throw new AttributionError('INVALID_RECEIPT', `receipt.${field}: ${why}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) bad('', 'must be an object');
  const r = value as Record<string, unknown>;
  if (r.version !== 1) bad('version', `unsupported version ${String(r.version)} (supported: 1)`);
  for (const f of ['id', 'inputHash', 'outputHash'])
    if (typeof r[f] !== 'string' || !HEX32.test(r[f] as string)) bad(f, 'must be 0x + 64 hex digits');
  if (typeof r.modelId !== 'string' || r.modelId.length === 0) bad('modelId', 'must be a non-empty string');
  if (!['span', 'gradient', 'span+gradient'].includes(r.method as string))
    bad('method', 'must be span, gradient or span+gradient');
  if (typeof r.params !== 'object' || r.params === null || Array.isArray(r.params))
    bad('params', 'must be an object');
  if (!Array.isArray(r.contributors)) bad('contributors', 'must be an array');
  (r.contributors as unknown[]).forEach((c, i) => {
    const o = c as Record<string, unknown>;
    if (typeof o?.address !== 'string') bad(`contributors[${i}].address`, 'must be a string');
    if (typeof o.weight !== 'number' || !(o.weight >= 0 && o.weight <= 1))
      bad(`contributors[${i}].weight`, 'must be in [0, 1]');
  });
  if (!Array.isArray(r.spans)) bad('spans', 'must be an array');
  (r.spans as unknown[]).forEach((s, i) => {
    const o = s as Record<string, unknown>;
    if (!Number.isInteger(o?.start) || !Number.isInteger(o.end) || (o.end as number) <= (o.start as number)) {
      bad(`spans[${i}]`, 'needs integer start < end');
    }
    if (!Array.isArray(o.rowIds) || !(o.rowIds as unknown[]).every((x) => typeof x === 'string'))
      bad(`spans[${i}].rowIds`, 'must be strings');
    if (!Number.isInteger(o.count) || (o.count as number) < 1)
      bad(`spans[${i}].count`, 'must be a positive integer');
  });
  if (r.createdAt !== undefined && typeof r.createdAt !== 'string') bad('createdAt', 'must be a string');
  return r as unknown as Receipt;
}

export interface VerifyResult {
  ok: boolean;
  /** Why verification failed (absent when ok). */
  reason?: string;
}

/**
 * Verifies a receipt: its shape, that its id is the hash of its content (tampering), and that
 * recomputing it from the data and model files (`recompute`, e.g. `attribute` with the same request)
 * gives the same content.
 */
export async function verifyReceipt(
  receipt: unknown,
  recompute: (r: Receipt) => Receipt | Promise<Receipt>,
): Promise<VerifyResult> {
  let r: Receipt;
  try {
    r = parseReceipt(receipt);
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
  const id = receiptId(r);
  if (id !== r.id)
    return { ok: false, reason: `id mismatch: content hashes to ${id}, receipt says ${r.id} (tampered)` };
  const again = await recompute(r);
  if (receiptId(again) !== r.id) {
    const { id: _a, createdAt: _b, ...x } = r;
    const { id: _c, createdAt: _d, ...y } = again;
    const fields = (Object.keys({ ...x, ...y }) as (keyof typeof x)[]).filter(
      (k) => canonicalJson(x[k] ?? null) !== canonicalJson(y[k] ?? null),
    );
    return { ok: false, reason: `recomputed receipt differs in: ${fields.join(', ')}` };
  }
  return { ok: true };
}

/** Writes a receipt as canonical JSON (atomically). */
export function writeReceiptFile(path: string, receipt: Receipt): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${canonicalJson(receipt)}\n`);
  renameSync(tmp, path);
}

/** Reads a receipt file; a truncated, non-JSON or altered file raises a clear AttributionError. */
export function readReceiptFile(path: string): Receipt {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new AttributionError('RECEIPT_NOT_FOUND', `receipt ${path}: ${(e as Error).message}`, 404);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new AttributionError(
      'RECEIPT_CORRUPT',
      `receipt ${path}: not valid JSON (truncated or damaged, ${text.length} bytes)`,
      422,
    );
  }
  const r = parseReceipt(value);
  const id = receiptId(r);
  if (id !== r.id) {
    throw new AttributionError(
      'RECEIPT_TAMPERED',
      `receipt ${path}: content hashes to ${id} but id is ${r.id}`,
      422,
    );
  }
  return r;
}

export interface ReceiptBatch {
  /** Merkle root (0x…, keccak256, OpenZeppelin StandardMerkleTree over ['bytes32'] leaves). */
  root: string;
  ids: string[];
  tree: StandardMerkleTree<[string]>;
  proof(id: string): string[];
}

/** Batches receipts (or their ids) under a Merkle root; leaves are the receipt ids as bytes32. */
export function batchReceipts(receipts: readonly (Receipt | string)[]): ReceiptBatch {
  if (receipts.length === 0)
    throw new AttributionError('INVALID_PARAM', 'a batch needs at least one receipt');
  const ids = receipts.map((r, i) => {
    const id = typeof r === 'string' ? r : r.id;
    if (!HEX32.test(id))
      throw new AttributionError('INVALID_PARAM', `receipts[${i}]: id must be 0x + 64 hex digits`);
    return id;
  });
  const tree = StandardMerkleTree.of(
    ids.map((id) => [id] as [string]),
    ['bytes32'],
  );
  return {
    root: tree.root,
    ids,
    tree,
    proof: (id: string) => {
      for (const [i, v] of tree.entries()) if (v[0] === id) return tree.getProof(i);
      throw new AttributionError('NOT_FOUND', `receipt ${id} is not in this batch`, 404);
    },
  };
}

/** Checks a receipt id's inclusion proof against a batch root. */
export function verifyReceiptInclusion(root: string, id: string, proof: string[]): boolean {
  return StandardMerkleTree.verify(root, ['bytes32'], [id], proof);
}
