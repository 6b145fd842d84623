// Paragraph-aware chunking of plain text / Markdown into rows: paragraphs (blank-line separated;
// a Markdown heading also starts one) are packed together while the chunk stays within
// `targetChars`; a paragraph longer than `maxChars` is split at sentence ends, then at whitespace,
// and only as a last resort inside a word. Every chunk is at most `maxChars` characters.

export interface ChunkOptions {
  targetChars?: number;
  maxChars?: number;
}

export const DEFAULT_CHUNK: Required<ChunkOptions> = { targetChars: 1000, maxChars: 2000 };

function splitLong(p: string, max: number, out: string[]): void {
  const sentences = p.split(/(?<=[.!?。！？])\s+/);
  let cur = '';
  const flush = () => {
    if (cur) out.push(cur);
    cur = '';
  };
  for (const s of sentences) {
    if (s.length > max) {
      flush();
      let rest = s;
      while (rest.length > max) {
        let cut = rest.lastIndexOf(' ', max);
        if (cut < max / 2) cut = max;
        out.push(rest.slice(0, cut).trimEnd());
        rest = rest.slice(cut).trimStart();
      }
      cur = rest;
      continue;
    }
    if (!cur) cur = s;
    else if (cur.length + 1 + s.length <= max) cur += ` ${s}`;
    else {
      flush();
      cur = s;
    }
  }
  flush();
}

export function chunkText(text: string, opts: ChunkOptions = {}): string[] {
  const target = opts.targetChars ?? DEFAULT_CHUNK.targetChars;
  const max = Math.max(opts.maxChars ?? DEFAULT_CHUNK.maxChars, target);
  const paragraphs = text
    .split(/\n[ \t]*\n+|\n(?=#{1,6} )/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  const out: string[] = [];
  // the current chunk as its paragraphs and its length, joined once when it is complete (one flat
  // string, rather than a tree of concatenations and slices that keeps the whole text alive)
  const cur: string[] = [];
  let len = 0;
  const flush = () => {
    if (cur.length > 0) out.push(cur.length === 1 ? cur[0] : cur.join('\n\n'));
    cur.length = 0;
    len = 0;
  };
  for (const p of paragraphs) {
    const heading = /^#{1,6} /.test(p);
    if (p.length > max) {
      flush();
      splitLong(p, max, out);
      continue;
    }
    if (cur.length > 0 && (heading || len + 2 + p.length > target)) flush();
    len += (cur.length > 0 ? 2 : 0) + p.length;
    cur.push(p);
  }
  flush();
  return out;
}
