export { canonicalJson, sha256Hex } from './canonical.ts';
export { AttributionError } from './errors.ts';
export { fromHalf, toHalf } from './f16.ts';
export {
  type GradCheckpoint,
  type GradDtype,
  type GradExample,
  type GradientSet,
  readGradientStore,
  validateGradientSet,
  writeGradientStore,
} from './grad-store.ts';
export {
  contributorInfluence,
  type DataInfOptions,
  dataInf,
  dataInfDamping,
  gradDot,
  type InfluenceMethod,
  type InfluenceMethodName,
  influenceMethod,
  tracIn,
} from './influence.ts';
export { hashString, Prng, zipfTokens } from './prng.ts';
export { type ProjectionKind, type ProjectionSpec, projectionDims, RandomProjector } from './projection.ts';
export {
  type AttributeRequest,
  type AttributionMethod,
  type AttributionPolicy,
  attribute,
  batchReceipts,
  contributorWeights,
  DEFAULT_POLICY,
  type GradientPolicy,
  type ModelKind,
  methodForModel,
  normalisePositive,
  parseReceipt,
  policyOfReceipt,
  type Receipt,
  type ReceiptBatch,
  type ReceiptSpan,
  readReceiptFile,
  receiptId,
  type VerifyResult,
  validatePolicy,
  verifyReceipt,
  verifyReceiptInclusion,
  writeReceiptFile,
} from './receipt.ts';
export { buildSuffixArray, naiveSuffixArray } from './sais.ts';
export {
  type BuildSpanIndexOptions,
  buildSpanIndex,
  type CorpusDocument,
  corpusText,
  type DocumentInfo,
  type LongestMatches,
  type OpenSpanIndexOptions,
  type SaRange,
  SpanIndex,
  type SpanIndexBuildStats,
  type SpanIndexMemory,
  type SpanLocation,
} from './span-index.ts';
export {
  DEFAULT_SPAN_PARAMS,
  type MatchedSpan,
  type SpanOccurrence,
  type SpanParams,
  selectSpans,
  spanContributorScores,
  validateSpanParams,
} from './spans.ts';
