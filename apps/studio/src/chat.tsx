// Streamed chat over the OpenAI-compatible API, with the cost of each answer and its attribution.
import { type FormEvent, type ReactNode, useEffect, useId, useRef, useState } from 'react';
import { ApiError, api, formatOpen, seg, shortHex } from './api.ts';
import { Link } from './router.tsx';
import { streamSse } from './sse.ts';
import { asList, ErrorBox, Hash, pick, Spinner, withKeys } from './ui.tsx';
import { useWallet } from './wallet.tsx';

export interface ChatMessage {
  id: number;
  role: 'user' | 'assistant';
  content: string;
  cost?: string;
  usage?: Record<string, unknown>;
  receiptId?: string;
  error?: unknown;
  done?: boolean;
}

export type Receipt = Record<string, unknown>;

export interface Span {
  start: number;
  end: number;
  rowId?: string;
  datanetId?: string;
  contributor?: string;
}

/** Locates a receipt's spans in the answer text: by their text when given, else by offsets. */
export function locateSpans(answer: string, receipt: Receipt | undefined): Span[] {
  const raw = asList<Record<string, unknown>>(pick(receipt, 'spans', 'matches'));
  const out: Span[] = [];
  let cursor = 0;
  for (const s of raw) {
    const text = pick<string>(s, 'text', 'span');
    // receipts carry token offsets (start/end) and the decoded text; only character offsets are usable here
    let start = Number(pick(s, 'charStart'));
    let end = Number(pick(s, 'charEnd'));
    if (typeof text === 'string' && text) {
      let at = answer.indexOf(text, cursor);
      if (at < 0) at = answer.indexOf(text);
      if (at >= 0) {
        start = at;
        end = at + text.length;
        cursor = end;
      }
    }
    if (!Number.isFinite(start) || !Number.isFinite(end) || start < 0 || end > answer.length || end <= start)
      continue;
    out.push({
      start,
      end,
      rowId: pick<string>(s, 'rowId', 'row'),
      datanetId: pick<string>(s, 'datanetId', 'datanet'),
      contributor: pick<string>(s, 'contributor', 'address'),
    });
  }
  out.sort((a, b) => a.start - b.start);
  const merged: Span[] = [];
  for (const s of out) if (!merged.length || s.start >= merged[merged.length - 1].end) merged.push(s);
  return merged;
}

export function HighlightedAnswer({ text, spans }: { text: string; spans: Span[] }) {
  const parts: ReactNode[] = [];
  let at = 0;
  spans.forEach((s) => {
    if (s.start > at) parts.push(text.slice(at, s.start));
    const piece = text.slice(s.start, s.end);
    parts.push(
      <mark
        key={s.start}
        className="span"
        title={s.rowId ? `Matched row ${s.rowId}` : 'Matched training span'}
      >
        {s.rowId ? <Link to={`/rows/${seg(s.rowId)}`}>{piece}</Link> : piece}
      </mark>,
    );
    at = s.end;
  });
  if (at < text.length) parts.push(text.slice(at));
  return <>{parts}</>;
}

export interface Contributor {
  address: string;
  weight: number;
  amount?: string;
}

export function contributorsOf(receipt: Receipt | undefined): Contributor[] {
  const raw = pick(receipt, 'contributors', 'weights', 'attribution', 'influences');
  let list: Contributor[] = [];
  if (Array.isArray(raw))
    list = raw.map((c: Record<string, unknown>) => ({
      address: String(pick(c, 'address', 'contributor', 'id') ?? '?'),
      weight: Number(pick(c, 'weight', 'share', 'influence') ?? 0),
      amount: pick<string>(c, 'amount', 'reward'),
    }));
  else if (raw && typeof raw === 'object')
    list = Object.entries(raw as Record<string, unknown>).map(([address, w]) => ({
      address,
      weight: Number(w),
    }));
  const total = list.reduce((a, c) => a + Math.max(0, c.weight), 0);
  if (total > 1.0001) list = list.map((c) => ({ ...c, weight: c.weight / total }));
  return list.sort((a, b) => b.weight - a.weight);
}

export function AttributionPanel({
  receipt,
  error,
  loading,
  answer,
  missing,
}: {
  receipt?: Receipt;
  error?: unknown;
  loading?: boolean;
  /** the answer text, to show spans that carry only offsets */
  answer?: string;
  /** the last answer came back without a receipt id */
  missing?: boolean;
}) {
  if (missing && !receipt && !loading)
    return (
      <p className="muted" data-testid="attribution-missing">
        The node returned no attribution receipt for this answer, so there is nothing to show yet.
      </p>
    );
  if (loading) return <Spinner label="Loading attribution…" />;
  if (error !== undefined) return <ErrorBox error={error} title="Attribution unavailable" />;
  if (!receipt) return <p className="muted">Send a message to see which contributions shaped the answer.</p>;
  const contributors = contributorsOf(receipt);
  const spans = asList<Record<string, unknown>>(pick(receipt, 'spans', 'matches'));
  const id = String(pick(receipt, 'id', 'receiptId') ?? '');
  return (
    <div data-testid="attribution">
      <h3>Contributors</h3>
      {contributors.length === 0 ? (
        <p className="muted">No training data was influential enough to be credited for this answer.</p>
      ) : (
        <ul className="bars" aria-label="Contributor weights">
          {contributors.map((c) => (
            <li key={c.address}>
              <div className="spread small">
                <Hash value={c.address} n={4} />
                <span>
                  {(c.weight * 100).toFixed(1)}%{c.amount ? ` · ${formatOpen(c.amount, 6)}` : ''}
                </span>
              </div>
              <div className="bar-track" aria-hidden="true">
                <div className="bar-fill" style={{ width: `${Math.max(1, c.weight * 100)}%` }} />
              </div>
            </li>
          ))}
        </ul>
      )}
      <h3>Matched spans</h3>
      {spans.length === 0 ? (
        <p className="muted small">No verbatim spans from the training data.</p>
      ) : (
        <ul className="small" style={{ paddingLeft: 16 }}>
          {withKeys(spans.slice(0, 12), (s) => String(pick(s, 'start') ?? '')).map(({ item: s, key }) => {
            const rids = [pick<string>(s, 'rowId', 'row'), ...asList<string>(pick(s, 'rowIds'))].filter(
              (r): r is string => typeof r === 'string',
            );
            const text =
              pick<string>(s, 'text', 'span') ??
              (answer && pick(s, 'charStart') !== undefined
                ? answer.slice(Number(pick(s, 'charStart')), Number(pick(s, 'charEnd')))
                : `tokens ${String(pick(s, 'start'))}–${String(pick(s, 'end'))}`);
            return (
              <li key={key}>
                “{text || '…'}”{' '}
                {rids.slice(0, 3).map((rid) => (
                  <Link key={rid} to={`/rows/${seg(rid)}`} style={{ marginRight: 6 }}>
                    row {shortHex(rid, 4)}
                  </Link>
                ))}
                {rids.length > 3 && <span className="muted">+{rids.length - 3} more</span>}
              </li>
            );
          })}
        </ul>
      )}
      {id && (
        <p className="small">
          Receipt <Link to={`/explorer?receipt=${encodeURIComponent(id)}`}>{shortHex(id, 6)}</Link> · method{' '}
          {String(pick(receipt, 'method') ?? '—')}
        </p>
      )}
    </div>
  );
}

/** Resolves the credential for /v1: an API key bound to the wallet, else the session token. */
async function credential(w: ReturnType<typeof useWallet>, fresh = false): Promise<string> {
  try {
    return await w.apiKey(fresh);
  } catch (e) {
    if (e instanceof ApiError && e.missingRoute && w.token) return w.token;
    throw e;
  }
}

let nextId = 1;

export function Chat({
  model,
  onReceipt,
  compact,
}: {
  model: string;
  onReceipt?: (receiptId: string | undefined, answer: string) => void;
  compact?: boolean;
}) {
  const w = useWallet();
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [input, setInput] = useState('');
  const uid = useId();
  const [mode, setMode] = useState<'chat' | 'completion'>('chat');
  const [temperature, setTemperature] = useState('0.7');
  const [maxTokens, setMaxTokens] = useState('128');
  const [busy, setBusy] = useState(false);
  const [receipts, setReceipts] = useState<Record<string, Receipt>>({});
  const abortRef = useRef<AbortController | null>(null);
  const logRef = useRef<HTMLDivElement>(null);

  useEffect(() => () => abortRef.current?.abort(), []);
  // biome-ignore lint/correctness/useExhaustiveDependencies: scroll when messages change
  useEffect(() => {
    logRef.current?.scrollTo({ top: logRef.current.scrollHeight });
  }, [messages]);

  const update = (fn: (m: ChatMessage) => ChatMessage) =>
    setMessages((list) => list.map((m, i) => (i === list.length - 1 ? fn(m) : m)));

  async function send(e: FormEvent) {
    e.preventDefault();
    const text = input.trim();
    if (!text || busy) return;
    const history: ChatMessage[] = [
      ...messages.filter((m) => !m.error),
      { id: nextId++, role: 'user', content: text },
    ];
    setMessages([...history, { id: nextId++, role: 'assistant', content: '' }]);
    setInput('');
    setBusy(true);
    const ctrl = new AbortController();
    abortRef.current = ctrl;
    let receiptId: string | undefined;
    let answerText = '';
    try {
      const run = (key: string) =>
        streamSse(mode === 'chat' ? '/v1/chat/completions' : '/v1/completions', {
          body: {
            model,
            ...(mode === 'chat'
              ? { messages: history.map(({ role, content }) => ({ role, content })) }
              : { prompt: text }),
            stream: true,
            max_tokens: Math.max(1, Math.min(4096, Number(maxTokens) || 128)),
            temperature: Math.max(0, Math.min(2, Number(temperature) || 0)),
          },
          headers: { authorization: `Bearer ${key}` },
          signal: ctrl.signal,
          onEvent: (ev) => {
            if (ev.data === '[DONE]') return;
            let chunk: Record<string, unknown>;
            try {
              chunk = JSON.parse(ev.data);
            } catch {
              return;
            }
            if (pick(chunk, 'error'))
              throw new Error(String(pick(pick(chunk, 'error'), 'message') ?? 'stream error'));
            const choice = asList<Record<string, unknown>>(pick(chunk, 'choices'))[0];
            const delta = String(
              pick(pick(choice, 'delta'), 'content') ??
                pick(pick(choice, 'message'), 'content') ??
                pick(choice, 'text') ??
                '',
            );
            const usage = pick<Record<string, unknown>>(chunk, 'usage');
            const rid =
              pick<string>(pick(chunk, 'openledger'), 'receiptId') ?? pick<string>(chunk, 'receiptId');
            if (rid) receiptId = rid;
            answerText += delta;
            update((m) => ({
              ...m,
              content: m.content + delta,
              usage: usage ?? m.usage,
              cost:
                String(pick(usage, 'cost') ?? pick(pick(chunk, 'openledger'), 'cost') ?? m.cost ?? '') ||
                undefined,
              receiptId: rid ?? m.receiptId,
            }));
          },
        });
      try {
        await run(await credential(w));
      } catch (err) {
        // a cached API key the node no longer knows: make a new one and try once more
        if (!(err instanceof ApiError && err.status === 401)) throw err;
        await run(await credential(w, true));
      }
      update((m) => ({ ...m, done: true }));
      onReceipt?.(receiptId, answerText);
      if (receiptId) {
        const rid = receiptId;
        api
          .get<Receipt>(`/api/attribution/receipts/${seg(rid)}`)
          .then((r) => setReceipts((m) => ({ ...m, [rid]: (pick<Receipt>(r, 'receipt') ?? r) as Receipt })))
          .catch(() => undefined);
      }
    } catch (err) {
      update((m) => ({ ...m, error: err, done: true }));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="chat">
      <div className="chat-log" ref={logRef} aria-live="polite" aria-busy={busy} data-testid="chat-log">
        {messages.length === 0 && (
          <p className="muted">Ask the model something. Answers stream in as they are generated.</p>
        )}
        {messages.map((m) => {
          const receipt = m.receiptId ? receipts[m.receiptId] : undefined;
          return (
            <div
              key={m.id}
              className={`msg msg-${m.role}`}
              data-testid={m.role === 'assistant' ? 'answer' : 'question'}
            >
              <span className="sr-only">{m.role === 'user' ? 'You:' : 'Model:'} </span>
              {m.role === 'assistant' && receipt ? (
                <HighlightedAnswer text={m.content} spans={locateSpans(m.content, receipt)} />
              ) : (
                m.content
              )}
              {m.role === 'assistant' && !m.done && !m.content && <span className="muted">…</span>}
              {m.error !== undefined && <ErrorBox error={m.error} title="The answer failed" />}
              {m.role === 'assistant' && m.done && !m.error && (
                <div className="msg-meta" data-testid="answer-meta">
                  {m.cost ? `Cost ${formatOpen(m.cost, 8)}` : 'Cost not reported'}
                  {m.usage
                    ? ` · ${String(pick(m.usage, 'prompt_tokens') ?? '?')} in / ${String(pick(m.usage, 'completion_tokens') ?? '?')} out tokens`
                    : ''}
                  {m.receiptId ? ` · receipt ${shortHex(m.receiptId, 4)}` : ''}
                </div>
              )}
            </div>
          );
        })}
      </div>
      {!w.signedIn && <p className="small muted">Sign in to pay for answers with your wallet.</p>}
      <div className="row small chat-settings">
        <label htmlFor={`${uid}-mode`}>Mode</label>
        <select
          id={`${uid}-mode`}
          value={mode}
          onChange={(e) => setMode(e.target.value as 'chat' | 'completion')}
          title="Chat wraps messages in the model's chat template; completion continues your text as is"
          style={{ width: 'auto' }}
        >
          <option value="chat">Chat</option>
          <option value="completion">Completion</option>
        </select>
        <label htmlFor={`${uid}-temp`}>Temperature</label>
        <input
          id={`${uid}-temp`}
          type="number"
          min="0"
          max="2"
          step="0.1"
          value={temperature}
          onChange={(e) => setTemperature(e.target.value)}
          style={{ width: 80 }}
        />
        <label htmlFor={`${uid}-max`}>Max tokens</label>
        <input
          id={`${uid}-max`}
          type="number"
          min="1"
          max="4096"
          value={maxTokens}
          onChange={(e) => setMaxTokens(e.target.value)}
          style={{ width: 90 }}
        />
      </div>
      <form className="chat-input" onSubmit={send}>
        <label htmlFor={compact ? 'chat-input-c' : 'chat-input'} className="sr-only">
          Message
        </label>
        <textarea
          id={compact ? 'chat-input-c' : 'chat-input'}
          value={input}
          onChange={(e) => setInput(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) {
              e.preventDefault();
              e.currentTarget.form?.requestSubmit();
            }
          }}
          placeholder="Type a message (Enter to send, Shift+Enter for a new line)"
          rows={2}
        />
        <div className="row">
          <button type="submit" className="btn btn-primary" disabled={busy || !input.trim() || !model}>
            {busy ? 'Answering…' : 'Send'}
          </button>
          {busy && (
            <button type="button" className="btn btn-ghost" onClick={() => abortRef.current?.abort()}>
              Stop
            </button>
          )}
        </div>
      </form>
    </div>
  );
}
