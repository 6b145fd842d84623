// A small Markdown renderer that builds React elements (never innerHTML), enough for datanet
// descriptions: headings, paragraphs, lists, quotes, fenced code, inline code, bold, italic, links.
// Written here because the common libraries bring an HTML sanitiser or a large parser for a preview.
import type { ReactNode } from 'react';
import { withKeys } from './ui.tsx';

function inline(text: string, keyBase: string): ReactNode[] {
  const out: ReactNode[] = [];
  const re = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*|_[^_\s][^_]*_)|(\[[^\]]+\]\([^)\s]+\))/g;
  let last = 0;
  let m: RegExpExecArray | null = re.exec(text);
  let i = 0;
  while (m) {
    if (m.index > last) out.push(text.slice(last, m.index));
    const t = m[0];
    const key = `${keyBase}-${i++}`;
    if (m[1]) out.push(<code key={key}>{t.slice(1, -1)}</code>);
    else if (m[2]) out.push(<strong key={key}>{inline(t.slice(2, -2), key)}</strong>);
    else if (m[3]) out.push(<em key={key}>{inline(t.slice(1, -1), key)}</em>);
    else {
      const lm = /^\[([^\]]+)\]\(([^)\s]+)\)$/.exec(t);
      const href = lm?.[2] ?? '';
      if (lm && /^(https?:|#|mailto:)/i.test(href))
        out.push(
          <a
            key={key}
            href={href}
            rel="noopener noreferrer"
            target={href.startsWith('#') ? undefined : '_blank'}
          >
            {lm[1]}
          </a>,
        );
      else out.push(t);
    }
    last = m.index + t.length;
    m = re.exec(text);
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export function Markdown({ source }: { source: string }) {
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  const blocks: ReactNode[] = [];
  let i = 0;
  let k = 0;
  while (i < lines.length) {
    const line = lines[i];
    const key = `b${k++}`;
    if (line.trim() === '') {
      i++;
      continue;
    }
    if (line.startsWith('```')) {
      const code: string[] = [];
      i++;
      while (i < lines.length && !lines[i].startsWith('```')) code.push(lines[i++]);
      i++;
      blocks.push(
        <pre key={key}>
          <code>{code.join('\n')}</code>
        </pre>,
      );
      continue;
    }
    const h = /^(#{1,6})\s+(.*)$/.exec(line);
    if (h) {
      const level = Math.min(6, h[1].length + 2); // page already has h1/h2
      const content = inline(h[2], key);
      blocks.push(
        level === 3 ? (
          <h3 key={key}>{content}</h3>
        ) : level === 4 ? (
          <h4 key={key}>{content}</h4>
        ) : level === 5 ? (
          <h5 key={key}>{content}</h5>
        ) : (
          <h6 key={key}>{content}</h6>
        ),
      );
      i++;
      continue;
    }
    if (/^\s*([-*+])\s+/.test(line) || /^\s*\d+[.)]\s+/.test(line)) {
      const ordered = /^\s*\d+[.)]\s+/.test(line);
      const items: string[] = [];
      while (i < lines.length && (ordered ? /^\s*\d+[.)]\s+/ : /^\s*[-*+]\s+/).test(lines[i]))
        items.push(lines[i++].replace(/^\s*(\d+[.)]|[-*+])\s+/, ''));
      const lis = withKeys(items, (it) => `${key}-${it}`).map(({ item, key: k }) => (
        <li key={k}>{inline(item, k)}</li>
      ));
      blocks.push(ordered ? <ol key={key}>{lis}</ol> : <ul key={key}>{lis}</ul>);
      continue;
    }
    if (line.startsWith('>')) {
      const q: string[] = [];
      while (i < lines.length && lines[i].startsWith('>')) q.push(lines[i++].replace(/^>\s?/, ''));
      blocks.push(<blockquote key={key}>{inline(q.join(' '), key)}</blockquote>);
      continue;
    }
    const para: string[] = [];
    while (
      i < lines.length &&
      lines[i].trim() !== '' &&
      !/^(#{1,6}\s|```|>|\s*[-*+]\s|\s*\d+[.)]\s)/.test(lines[i])
    )
      para.push(lines[i++]);
    blocks.push(<p key={key}>{inline(para.join(' '), key)}</p>);
  }
  if (blocks.length === 0) return <p className="muted">Nothing to preview.</p>;
  return <div className="markdown">{blocks}</div>;
}
