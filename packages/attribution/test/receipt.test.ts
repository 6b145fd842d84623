import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, test } from 'node:test';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import {
  type AttributeRequest,
  AttributionError,
  attribute,
  batchReceipts,
  buildSpanIndex,
  canonicalJson,
  contributorWeights,
  type GradientSet,
  Prng,
  policyOfReceipt,
  type Receipt,
  readReceiptFile,
  receiptId,
  SpanIndex,
  verifyReceipt,
  verifyReceiptInclusion,
  writeReceiptFile,
} from '../src/index.ts';
import { tempDir } from './helpers.ts';

const tmp = tempDir();
after(() => tmp.cleanup());

const addr = (i: number) => `0x${String(i).repeat(40).slice(0, 40)}`;
const r = new Prng(3);
const docs = Array.from({ length: 12 }, (_, i) => ({
  tokens: Array.from({ length: 40 }, () => r.int(30)),
  rowId: `row-${i}`,
  contributionId: `contrib-${i}`,
  contributor: addr(i % 4),
}));
const indexPath = tmp.file('corpus.olsa');
buildSpanIndex(docs, indexPath);
const index = SpanIndex.open(indexPath);
after(() => index.close());

const D = 8;
const gradients: GradientSet = {
  layerDims: [4, 4],
  examples: Array.from({ length: 10 }, (_, i) => ({ rowId: `row-${i}`, contributor: addr(i % 5) })),
  checkpoints: [{ lr: 0.01, grads: Float32Array.from({ length: 10 * D }, () => r.gaussian()) }],
};
const testGrad = Float32Array.from({ length: D }, () => r.gaussian());
const outputTokens = [...docs[2].tokens.slice(5, 17), 31, 32, ...docs[7].tokens.slice(0, 9), 33];

const request = (over: Partial<AttributeRequest> = {}): AttributeRequest => ({
  modelId: 'model-1',
  modelKind: 'adapter-on-base',
  input: 'what is it?',
  output: 'it is this',
  outputTokens,
  decode: (t) => t.join(' '),
  spanIndex: index,
  gradients,
  testGradients: [testGrad],
  policy: { span: { minLength: 3, maxCount: 50, density: 0.2 }, topK: 3 },
  ...over,
});

test('receipts are deterministic, content-addressed and normalised over positive influence', () => {
  const a = attribute(request({ createdAt: '2026-01-01T00:00:00Z' }));
  const b = attribute(request({ createdAt: '2027-01-01T00:00:00Z' }));
  assert.equal(a.id, b.id, 'createdAt stays out of the hash');
  assert.equal(canonicalJson({ ...a, createdAt: undefined }), canonicalJson({ ...b, createdAt: undefined }));
  assert.equal(a.id, receiptId(a));
  assert.match(a.id, /^0x[0-9a-f]{64}$/);
  assert.equal(a.method, 'span+gradient');
  assert.ok(a.spans.length >= 2, 'both copied fragments are found');
  assert.deepEqual(a.spans[0].rowIds, ['row-2']);
  assert.ok(a.contributors.length <= 3);
  const sum = a.contributors.reduce((s, c) => s + c.weight, 0);
  assert.ok(Math.abs(sum - 1) < 1e-8, `weights sum to ${sum}`);
  for (const c of a.contributors) assert.ok(c.weight > 0);
  assert.notEqual(attribute(request({ output: 'other' })).id, a.id);

  assert.equal(attribute(request({ modelKind: 'base' })).method, 'span');
  const g = attribute(request({ modelKind: 'small-adapter' }));
  assert.equal(g.method, 'gradient');
  assert.deepEqual(g.spans, []);
  assert.throws(
    () => attribute(request({ modelKind: 'small-adapter', gradients: undefined })),
    /needs gradients/,
  );
  assert.throws(() => attribute(request({ policy: { topK: 0 } })), /policy\.topK/);
});

test('contributor weights: positive influence only, minInfluence, topK, mixing', () => {
  const shares = new Map([
    ['0xa', 0.6],
    ['0xb', 0.3],
    ['0xc', 0.1],
  ]);
  assert.deepEqual(contributorWeights([{ shares, weight: 1 }], { minInfluence: 0.2, topK: 5 }), [
    { address: '0xa', weight: 0.666666667 },
    { address: '0xb', weight: 0.333333333 },
  ]);
  assert.deepEqual(contributorWeights([{ shares, weight: 1 }], { minInfluence: 0, topK: 1 }), [
    { address: '0xa', weight: 1 },
  ]);
  const mixed = contributorWeights(
    [
      { shares: new Map([['0xa', 1]]), weight: 0.25 },
      { shares: new Map([['0xb', 1]]), weight: 0.75 },
    ],
    { minInfluence: 0, topK: 5 },
  );
  assert.deepEqual(mixed, [
    { address: '0xb', weight: 0.75 },
    { address: '0xa', weight: 0.25 },
  ]);
  // A method with nothing positive drops out of the mix.
  assert.deepEqual(
    contributorWeights(
      [
        { shares: new Map(), weight: 0.5 },
        { shares: new Map([['0xb', 1]]), weight: 0.5 },
      ],
      { minInfluence: 0, topK: 5 },
    ),
    [{ address: '0xb', weight: 1 }],
  );
});

test('verifyReceipt recomputes and compares; tampering is detected', async () => {
  const rec = attribute(request());
  const recompute = () => attribute(request());
  assert.deepEqual(await verifyReceipt(rec, recompute), { ok: true });

  const tampered: Receipt = structuredClone(rec);
  tampered.contributors[0].weight = 0.99;
  const v1 = await verifyReceipt(tampered, recompute);
  assert.equal(v1.ok, false);
  assert.match(v1.reason!, /id mismatch/);

  // A forger who also rewrites the id is caught by recomputation.
  tampered.id = receiptId(tampered);
  const v2 = await verifyReceipt(tampered, recompute);
  assert.equal(v2.ok, false);
  assert.match(v2.reason!, /differs in: contributors/);

  const v3 = await verifyReceipt({ ...rec, version: 2 }, recompute);
  assert.match(v3.reason!, /receipt\.version/);
});

test('a receipt records its gradient settings and recomputes with them after the defaults change', async () => {
  const current = attribute(request());
  const g = (current.params as { gradient: Record<string, unknown> }).gradient;
  assert.equal(g.inverse, 'exact');
  assert.equal(g.perEntry, true);
  // a receipt of the earlier default (closed form, λ_l = 0.1 · mean ‖g_l‖²), which recorded neither
  const legacyPolicy = {
    ...request().policy,
    gradient: { method: 'datainf' as const, dampingScale: 0.1, perEntry: false, inverse: 'datainf' as const },
  };
  const legacy = attribute(request({ policy: legacyPolicy }));
  assert.deepEqual(Object.keys((legacy.params as { gradient: object }).gradient).sort(), [
    'dampingScale',
    'method',
  ]);
  assert.notDeepEqual(legacy.contributors, current.contributors, 'the two settings disagree here');
  const recompute = (r: Receipt) => attribute(request({ policy: policyOfReceipt(r) }));
  assert.deepEqual(await verifyReceipt(legacy, recompute), { ok: true });
  assert.deepEqual(await verifyReceipt(current, recompute), { ok: true });
  // recomputing the legacy receipt with today's defaults would not reproduce it
  const withDefaults = await verifyReceipt(legacy, () => attribute(request()));
  assert.equal(withDefaults.ok, false);
});

test('receipt files: round trip, truncated and altered files give clear errors', () => {
  const rec = attribute(request({ createdAt: '2026-11-25T00:00:00Z' }));
  const path = tmp.file('r.json');
  writeReceiptFile(path, rec);
  assert.deepEqual(readReceiptFile(path), rec);
  const text = readFileSync(path, 'utf8');
  writeFileSync(path, text.slice(0, text.length - 20));
  assert.throws(
    () => readReceiptFile(path),
    (e: unknown) => e instanceof AttributionError && e.code === 'RECEIPT_CORRUPT',
  );
  writeFileSync(path, text.replace('"row-2"', '"row-3"'));
  assert.throws(
    () => readReceiptFile(path),
    (e: unknown) => e instanceof AttributionError && e.code === 'RECEIPT_TAMPERED',
  );
});

test('receipts batch under an OpenZeppelin-compatible Merkle root', () => {
  const recs = ['a', 'b', 'c', 'd', 'e'].map((o) => attribute(request({ output: o })));
  const batch = batchReceipts(recs);
  const reference = StandardMerkleTree.of(
    recs.map((x) => [x.id]),
    ['bytes32'],
  );
  assert.equal(batch.root, reference.root);
  for (const x of recs) assert.ok(verifyReceiptInclusion(batch.root, x.id, batch.proof(x.id)));
  const outsider = attribute(request({ output: 'z' }));
  assert.equal(verifyReceiptInclusion(batch.root, outsider.id, batch.proof(recs[0].id)), false);
  assert.throws(() => batch.proof(outsider.id), /not in this batch/);
  assert.throws(() => batchReceipts([]), /at least one/);
});
