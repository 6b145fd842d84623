import { rowLeaf, verifyProof } from './merkle.ts';
import { contentHashOf, rowIdOf } from './rows.ts';
import type { Hex32, RowProof, Schema } from './types.ts';

/**
 * Verifies a row proof against `root` (the on-chain root, or the proof's own if omitted). With
 * `content` it also recomputes the content hash and row id from the row's fields, so a tampered
 * row fails even when the proof itself is intact.
 */
export function verifyRowProof(
  p: RowProof,
  opts: { root?: Hex32; content?: { schema: Schema; fields: Record<string, string> } } = {},
): boolean {
  try {
    if (opts.content) {
      const ch = contentHashOf(opts.content.schema, opts.content.fields);
      if (ch !== p.contentHash.toLowerCase()) return false;
      if (rowIdOf(p.datanetId, ch) !== p.rowId.toLowerCase()) return false;
    }
    const leaf = rowLeaf(p.rowId, p.contentHash, p.contributor);
    if (leaf !== p.leaf.toLowerCase()) return false;
    return verifyProof((opts.root ?? p.root).toLowerCase() as Hex32, leaf, p.proof);
  } catch {
    return false;
  }
}
