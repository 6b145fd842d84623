export { type Anchor, type AnchorCall, type AnchorReceipt, MemoryAnchor } from './anchor.ts';
export { type ChunkOptions, chunkText, DEFAULT_CHUNK } from './chunk.ts';
export { keccakBlockInto, keccakShort } from './keccak.ts';
export {
  bytesToHex,
  hexToBytes,
  MerkleTree,
  processProof,
  rowLeaf,
  rowLeafInto,
  rowsRoot,
  sortLeaves,
  verifyProof,
} from './merkle.ts';
export { DATANET_MIGRATIONS } from './migrations.ts';
export { bandKeys, LSH_BANDS, MINHASH_PERMUTATIONS, minhash, similarity } from './minhash.ts';
export { ACCEPTED_EXTENSIONS, checkFile, formatOf, parseFile, type RawRow } from './parse.ts';
export { verifyRowProof } from './proof.ts';
export { canonicalContent, checkRecord, contentHashOf, DEFAULT_ROW_CHECKS, rowIdOf } from './rows.ts';
export { type DatanetOptions, Datanets, type Upload } from './service.ts';
export { decodeUtf8, looksBinary } from './text.ts';
export * from './types.ts';
export { LIMITS, normalizeAddress } from './validate.ts';
