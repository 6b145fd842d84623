/**
 * Content-addressed publication of a settled epoch, so anyone can recompute its root.
 *
 * Three JSON blobs in a BlobStore (by default `<home>/blobs`, SHA-256 addressed):
 *   - the bundle (EpochBundle: params, redemptions, covered requests, receipts, prior penalty flags),
 *   - the reward tree (StandardMerkleTree `dump()` format, loadable by @openzeppelin/merkle-tree),
 *   - the manifest linking both, with the root and totals.
 * The root posted on-chain carries `uri = blob:sha256:<manifest id>`.
 * `verifyPublishedEpoch` re-hashes every blob, recomputes the epoch from the bundle alone and
 * compares root, total and every leaf with what was published (and, if given, what is on-chain).
 */
import { type BlobStore, normalizeBlobId, sha256Hex } from '@openledger/store';
import type { Hex } from 'viem';
import { computeEpoch, type EpochBundle, type EpochResult } from './epoch.ts';
import { EconomyError, invalid } from './errors.ts';
import { RewardTree, type StandardTreeDump } from './merkle.ts';

export const EPOCH_MANIFEST_FORMAT = 'openledger-epoch-manifest-v1';
export const BLOB_URI_PREFIX = 'blob:sha256:';

export interface EpochManifest {
  format: typeof EPOCH_MANIFEST_FORMAT;
  chainId: number;
  epoch: number;
  root: Hex;
  total: string;
  funded: string;
  withheld: string;
  unassigned: string;
  contributors: number;
  /** blob id of the EpochBundle */
  bundle: string;
  /** blob id of the tree dump, null when nobody earned */
  tree: string | null;
}

export interface PublishedEpoch {
  manifestId: string;
  uri: string;
  manifest: EpochManifest;
}

export function blobUri(id: string): string {
  return `${BLOB_URI_PREFIX}${id}`;
}

/** Blob id from `blob:sha256:<hex>`, a bare hex id or a CID. */
export function parseBlobUri(uri: string): string {
  const raw = uri.startsWith(BLOB_URI_PREFIX) ? uri.slice(BLOB_URI_PREFIX.length) : uri;
  const id = normalizeBlobId(raw);
  if (!id) throw invalid('uri', `not a blob reference (${BLOB_URI_PREFIX}<sha256 hex>): ${uri}`);
  return id;
}

async function putJson(blobs: BlobStore, value: unknown): Promise<string> {
  return (await blobs.put(JSON.stringify(value))).id;
}

/** Fetch a JSON blob and check that its content hashes to its id. */
export async function getJsonBlob<T>(blobs: BlobStore, id: string): Promise<T> {
  const hex = parseBlobUri(id);
  const bytes = await blobs.get(hex);
  if (!bytes) throw new EconomyError('BLOB_MISSING', `blob ${hex} is not in the blob store`, 404);
  if (sha256Hex(bytes) !== hex) {
    throw new EconomyError('BLOB_CORRUPT', `blob ${hex}: content does not hash to its id`, 422);
  }
  return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
}

export async function publishEpoch(
  blobs: BlobStore,
  bundle: EpochBundle,
  result: EpochResult,
): Promise<PublishedEpoch> {
  const bundleId = await putJson(blobs, bundle);
  const treeId = result.tree ? await putJson(blobs, result.tree.dump()) : null;
  const manifest: EpochManifest = {
    format: EPOCH_MANIFEST_FORMAT,
    chainId: bundle.chainId,
    epoch: bundle.epoch,
    root: result.root,
    total: result.total.toString(),
    funded: result.funded.toString(),
    withheld: result.withheld.toString(),
    unassigned: result.unassigned.toString(),
    contributors: result.rewards.size,
    bundle: bundleId,
    tree: treeId,
  };
  const manifestId = await putJson(blobs, manifest);
  return { manifestId, uri: blobUri(manifestId), manifest };
}

export interface LoadedEpoch {
  manifestId: string;
  manifest: EpochManifest;
  bundle: EpochBundle;
  tree: StandardTreeDump | null;
}

export async function loadPublishedEpoch(blobs: BlobStore, uri: string): Promise<LoadedEpoch> {
  const manifestId = parseBlobUri(uri);
  const manifest = await getJsonBlob<EpochManifest>(blobs, manifestId);
  if (manifest.format !== EPOCH_MANIFEST_FORMAT)
    throw invalid('manifest.format', `expected ${EPOCH_MANIFEST_FORMAT}`);
  const bundle = await getJsonBlob<EpochBundle>(blobs, manifest.bundle);
  const tree = manifest.tree ? await getJsonBlob<StandardTreeDump>(blobs, manifest.tree) : null;
  return { manifestId, manifest, bundle, tree };
}

export interface LeafDifference {
  account: string;
  published: bigint;
  recomputed: bigint;
}

export interface EpochVerification {
  ok: boolean;
  epoch: number;
  uri: string;
  /** root recomputed from the published bundle */
  recomputedRoot: Hex;
  recomputedTotal: bigint;
  publishedRoot: Hex | null;
  onchainRoot: Hex | null;
  onchainTotal: bigint | null;
  /** accounts whose published leaf differs from the recomputed one */
  differences: LeafDifference[];
  problems: string[];
  result: EpochResult | null;
}

/**
 * Recompute a published epoch and compare. Never throws for a bad publication: everything wrong
 * is listed in `problems` (ok = no problems).
 */
export async function verifyPublishedEpoch(
  blobs: BlobStore,
  uri: string,
  expected: { epoch?: number; root?: Hex; total?: bigint; chainId?: number } = {},
): Promise<EpochVerification> {
  const out: EpochVerification = {
    ok: false,
    epoch: expected.epoch ?? -1,
    uri,
    recomputedRoot: `0x${'0'.repeat(64)}`,
    recomputedTotal: 0n,
    publishedRoot: null,
    onchainRoot: expected.root ?? null,
    onchainTotal: expected.total ?? null,
    differences: [],
    problems: [],
    result: null,
  };
  let loaded: LoadedEpoch;
  try {
    loaded = await loadPublishedEpoch(blobs, uri);
  } catch (e) {
    out.problems.push(`publication unreadable: ${(e as Error).message}`);
    return out;
  }
  const { manifest, bundle, tree } = loaded;
  out.publishedRoot = manifest.root;
  if (
    expected.epoch !== undefined &&
    (manifest.epoch !== expected.epoch || bundle.epoch !== expected.epoch)
  ) {
    out.problems.push(
      `publication is for epoch ${manifest.epoch}/${bundle.epoch}, expected ${expected.epoch}`,
    );
  }
  out.epoch = manifest.epoch;
  if (
    expected.chainId !== undefined &&
    (manifest.chainId !== expected.chainId || bundle.chainId !== expected.chainId)
  ) {
    out.problems.push(`publication is for chain ${manifest.chainId}, expected ${expected.chainId}`);
  }
  let result: EpochResult;
  try {
    result = computeEpoch(bundle);
  } catch (e) {
    out.problems.push(`bundle cannot be recomputed: ${(e as Error).message}`);
    return out;
  }
  out.result = result;
  out.recomputedRoot = result.root;
  out.recomputedTotal = result.total;
  if (manifest.root.toLowerCase() !== result.root) {
    out.problems.push(`published root ${manifest.root} ≠ recomputed ${result.root}`);
  }
  if (manifest.total !== result.total.toString()) {
    out.problems.push(`published total ${manifest.total} ≠ recomputed ${result.total}`);
  }
  if (expected.root !== undefined && expected.root.toLowerCase() !== result.root) {
    out.problems.push(`on-chain root ${expected.root} ≠ recomputed ${result.root}`);
  }
  if (expected.total !== undefined && expected.total !== result.total) {
    out.problems.push(`on-chain total ${expected.total} ≠ recomputed ${result.total}`);
  }
  // leaf-by-leaf comparison with the published tree
  const published = new Map<string, bigint>();
  if (tree) {
    try {
      const t = RewardTree.load(tree);
      if (t.root !== manifest.root.toLowerCase()) out.problems.push('published tree root ≠ manifest root');
      for (const { account, amount } of t.values()) published.set(account.toLowerCase(), amount);
    } catch (e) {
      out.problems.push(`published tree invalid: ${(e as Error).message}`);
    }
  } else if (result.tree) {
    out.problems.push('no tree published although contributors earned');
  }
  const accounts = new Set([...published.keys(), ...result.rewards.keys()]);
  for (const a of [...accounts].sort()) {
    const p = published.get(a) ?? 0n;
    const r = result.rewards.get(a) ?? 0n;
    if (p !== r) out.differences.push({ account: a, published: p, recomputed: r });
  }
  if (out.differences.length > 0)
    out.problems.push(`${out.differences.length} leaves differ from the recomputation`);
  out.ok = out.problems.length === 0;
  return out;
}
