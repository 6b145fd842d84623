export type Address = `0x${string}`;
export type Hex32 = `0x${string}`;

export type Visibility = 'public' | 'permissioned';
export type ContributionPolicy = 'open' | 'allowlist' | 'owner';
export type Schema = 'text' | 'prompt_completion' | 'text_label';
export type RowStatus = 'pending' | 'approved' | 'rejected';

/** Fields of one row, by schema. */
export type RowFields =
  | { text: string }
  | { prompt: string; completion: string }
  | { text: string; label: string };

export const SCHEMA_FIELDS: Record<Schema, readonly string[]> = {
  text: ['text'],
  prompt_completion: ['prompt', 'completion'],
  text_label: ['text', 'label'],
};

export interface Datanet {
  id: number;
  owner: Address;
  name: string;
  summary: string;
  description: string;
  tags: string[];
  license: string;
  visibility: Visibility;
  policy: ContributionPolicy;
  schema: Schema;
  metadataURI: string;
  metadataHash: Hex32;
  createdAt: string;
  updatedAt: string;
  rowCount: number;
  approvedCount: number;
  pendingCount: number;
  versionCount: number;
  latestVersion: number | null;
  latestRoot: Hex32 | null;
}

export interface CreateDatanetInput {
  name: string;
  summary?: string;
  description?: string;
  tags?: string[];
  license: string;
  visibility?: Visibility;
  policy?: ContributionPolicy;
  schema?: Schema;
}

export interface UpdateDatanetInput {
  summary?: string;
  description?: string;
  tags?: string[];
}

export interface Row {
  id: Hex32;
  datanetId: number;
  contributionId: number;
  contributor: Address;
  contentHash: Hex32;
  fields: RowFields;
  status: RowStatus;
  reviewer: Address | null;
  reason: string | null;
  reviewedAt: string | null;
  /** The first version that contains this row, once published. */
  version: number | null;
  createdAt: string;
}

export type RowProblemCode =
  | 'empty'
  | 'too_short'
  | 'too_long'
  | 'invalid_encoding'
  | 'schema_mismatch'
  | 'duplicate'
  | 'near_duplicate';

export interface RowProblem {
  code: RowProblemCode;
  message: string;
  /** For duplicates: the row id (in the datanet) or submission row index it duplicates. */
  duplicateOf?: string;
  /** For near-duplicates: the estimated Jaccard similarity of word shingles. */
  similarity?: number;
}

export interface RowReport {
  /** 0-based index of the row in the submission (line for JSONL/CSV, chunk for text). */
  index: number;
  /** Where it came from: `line 12`, `record 3`, `chunk 7`. */
  source: string;
  rowId: Hex32 | null;
  accepted: boolean;
  problems: RowProblem[];
}

export interface Contribution {
  id: number;
  datanetId: number;
  contributor: Address;
  fileName: string;
  format: FileFormat;
  fileBlob: string;
  fileSize: number;
  rowsAccepted: number;
  rowsRejected: number;
  createdAt: string;
}

export interface ContributionResult {
  contribution: Contribution;
  rows: RowReport[];
}

export type FileFormat = 'txt' | 'md' | 'jsonl' | 'csv' | 'pdf';

export interface ReviewDecision {
  rowId: string;
  decision: 'approve' | 'reject';
  reason?: string;
}

export interface Version {
  datanetId: number;
  version: number;
  root: Hex32;
  rowCount: number;
  /** Approval sequence number up to which rows are included. */
  maxSeq: number;
  contentURI: string;
  manifestBlob: string;
  publishedBy: Address;
  publishedAt: string;
}

export interface VersionDiff {
  datanetId: number;
  from: number;
  to: number;
  added: number;
  removed: number;
  addedRows: { id: Hex32; contributor: Address; contentHash: Hex32 }[];
}

export interface RowProof {
  datanetId: number;
  version: number;
  root: Hex32;
  rowId: Hex32;
  contentHash: Hex32;
  contributor: Address;
  leaf: Hex32;
  proof: Hex32[];
}
