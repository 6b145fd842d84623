import { type FormEvent, useEffect, useState } from 'react';
import { ApiError, api, errorMessage, parseOpen, seg } from '../api.ts';
import { LossChart, type LossPoint } from '../charts.tsx';
import { Link } from '../router.tsx';
import { streamSse } from '../sse.ts';
import {
  ActionButton,
  Async,
  asList,
  ErrorBox,
  Field,
  Hash,
  Notice,
  PageHeader,
  Progress,
  pick,
  useLoad,
} from '../ui.tsx';
import { useWallet } from '../wallet.tsx';
import { StatusPill } from './DatanetPage.tsx';

type Job = Record<string, unknown>;
const FINISHED = /done|complete|succeed|finished|published/i;
const FAILED = /fail|error|cancel/i;

function toPoint(e: Record<string, unknown>): LossPoint | undefined {
  const step = Number(pick(e, 'step'));
  if (!Number.isFinite(step)) return undefined;
  const loss = pick<number>(e, 'loss', 'trainLoss');
  const valLoss = pick<number>(e, 'valLoss', 'val_loss');
  return {
    step,
    loss: loss === undefined ? undefined : Number(loss),
    valLoss: valLoss === undefined ? undefined : Number(valLoss),
  };
}

export function JobPage({ id }: { id: string }) {
  const job = useLoad(
    (s) => api.get<Job>(`/api/factory/jobs/${seg(id)}`, s).then((r) => (pick<Job>(r, 'job') ?? r) as Job),
    [id],
  );
  const [points, setPoints] = useState<LossPoint[]>([]);
  const [live, setLive] = useState<Record<string, unknown>>();
  const [streamError, setStreamError] = useState<unknown>();
  const [finished, setFinished] = useState(false);
  const status = String(pick(job.data, 'status', 'state') ?? '');
  const reload = job.reload;

  // Seed the curve from history the job already carries, then follow the live SSE stream.
  useEffect(() => {
    const history = asList<Record<string, unknown>>(
      pick(pick(job.data, 'result'), 'history') ?? pick(job.data, 'history'),
    );
    if (history.length)
      setPoints((p) =>
        p.length >= history.length ? p : (history.map(toPoint).filter(Boolean) as LossPoint[]),
      );
  }, [job.data]);

  useEffect(() => {
    const ctrl = new AbortController();
    setStreamError(undefined);
    streamSse(`/api/factory/jobs/${seg(id)}/events`, {
      signal: ctrl.signal,
      onEvent: (ev) => {
        let data: Record<string, unknown> = {};
        try {
          data = JSON.parse(ev.data);
        } catch {
          /* non-JSON keep-alive */
        }
        if (ev.event === 'progress' || (ev.event === 'message' && pick(data, 'step') !== undefined)) {
          const p = toPoint(data);
          if (p) setPoints((list) => (list.some((q) => q.step === p.step) ? list : [...list, p]));
          setLive(data);
        } else if (ev.event === 'done' || ev.event === 'error' || ev.event === 'failed') {
          setFinished(true);
          if (ev.event !== 'done')
            setStreamError(new Error(String(pick(data, 'message', 'error') ?? 'Training failed')));
          reload();
        }
      },
    })
      .then(() => !ctrl.signal.aborted && reload())
      .catch((e) => !ctrl.signal.aborted && setStreamError(e));
    return () => ctrl.abort();
  }, [id, reload]);

  const done = finished || FINISHED.test(status);
  const totalSteps =
    Number(
      pick(live, 'totalSteps') ??
        pick(pick(job.data, 'progress'), 'totalSteps') ??
        pick(pick(job.data, 'result'), 'steps') ??
        0,
    ) || undefined;
  const step = Number(pick(live, 'step') ?? points[points.length - 1]?.step ?? 0);
  const modelId = String(pick(job.data, 'adapterId', 'modelId', 'adapter') ?? '');
  const spec = (pick<Record<string, unknown>>(job.data, 'spec') ?? job.data ?? {}) as Record<string, unknown>;

  return (
    <section>
      <p className="small">
        <Link to="/factory">← ModelFactory</Link>
      </p>
      <PageHeader
        title={`Training job ${id}`}
        lead="Live progress, evaluation, a chat with the result, and publishing."
      />
      <Async state={job} label="Loading job…">
        {(j) => (
          <>
            <div className="card">
              <div className="spread">
                <h2 style={{ marginTop: 0 }}>Progress</h2>
                <div className="row">
                  <StatusPill
                    status={
                      done && !FINISHED.test(status) && !FAILED.test(status) ? 'done' : status || 'running'
                    }
                  />
                  {!done && !FAILED.test(status) && (
                    <ActionButton
                      className="btn btn-small btn-danger"
                      action={() => api.post(`/api/factory/jobs/${seg(id)}/cancel`)}
                      onDone={reload}
                      onError={setStreamError}
                    >
                      Cancel
                    </ActionButton>
                  )}
                </div>
              </div>
              {totalSteps ? <Progress value={step / totalSteps} label="Training progress" /> : null}
              <div aria-live="polite" className="small muted" style={{ margin: '6px 0' }}>
                {live
                  ? `Step ${step}${totalSteps ? ` of ${totalSteps}` : ''} · loss ${Number(pick(live, 'loss')).toFixed(4)}${
                      pick(live, 'valLoss') !== undefined
                        ? ` · val ${Number(pick(live, 'valLoss')).toFixed(4)}`
                        : ''
                    }${pick(live, 'tokensPerSecond') !== undefined ? ` · ${Math.round(Number(pick(live, 'tokensPerSecond')))} tok/s` : ''}${
                      pick(live, 'etaSeconds') !== undefined && !done
                        ? ` · ETA ${Math.round(Number(pick(live, 'etaSeconds')))} s`
                        : ''
                    }`
                  : done
                    ? 'Training finished.'
                    : 'Waiting for progress…'}
              </div>
              <LossChart points={points} totalSteps={totalSteps} />
              {streamError !== undefined && (
                <ErrorBox error={streamError} title="Live progress unavailable" />
              )}
              {FAILED.test(status) && pick(j, 'error') !== undefined && (
                <Notice kind="error">{String(pick(pick(j, 'error'), 'message') ?? pick(j, 'error'))}</Notice>
              )}
              <details>
                <summary>Configuration</summary>
                <pre>
                  {JSON.stringify(
                    {
                      baseModel: pick(spec, 'baseModel'),
                      datanets: pick(spec, 'datanets'),
                      template: pick(spec, 'template'),
                      hyperparameters: pick(spec, 'hyperparameters'),
                    },
                    null,
                    2,
                  )}
                </pre>
              </details>
            </div>
            {done && !FAILED.test(status) && (
              <>
                <Evaluation id={id} job={j} />
                <div className="card">
                  <h2 style={{ marginTop: 0 }}>Chat with the result</h2>
                  <p className="muted small">
                    A free sandbox for the job's owner (not metered). Once published, the model is served and
                    paid for through the Playground.
                  </p>
                  <SandboxChat id={id} />
                  {modelId && (
                    <p className="small">
                      <Link to={`/playground?model=${encodeURIComponent(modelId)}`}>
                        Chat with the published model in the Playground
                      </Link>
                    </p>
                  )}
                </div>
                <Publish id={id} job={j} onDone={reload} />
              </>
            )}
          </>
        )}
      </Async>
    </section>
  );
}

const fmt = (n: number) => (!Number.isFinite(n) ? '—' : Number.isInteger(n) ? String(n) : n.toFixed(4));

function Evaluation({ id, job }: { id: string; job: Job }) {
  // GET …/eval; a finished job also carries its before/after numbers in `result`.
  const ev = useLoad(
    (s) =>
      api.get(`/api/factory/jobs/${seg(id)}/eval`, s).catch((e) => {
        const result = pick<Record<string, unknown>>(job, 'result');
        if (e instanceof ApiError && e.missingRoute && pick(result, 'before'))
          return result as Record<string, unknown>;
        throw e;
      }),
    [id, pick(job, 'result') !== undefined && pick(job, 'result') !== null],
  );
  return (
    <div className="card">
      <h2 style={{ marginTop: 0 }}>Evaluation: before and after</h2>
      <Async state={ev} label="Evaluating…">
        {(e) => {
          const before = (pick<Record<string, unknown>>(e, 'before', 'base') ?? {}) as Record<
            string,
            unknown
          >;
          const after = (pick<Record<string, unknown>>(e, 'after', 'adapter', 'tuned') ?? {}) as Record<
            string,
            unknown
          >;
          const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
            (k) => typeof (before[k] ?? after[k]) === 'number',
          );
          const samples = asList<Record<string, unknown>>(pick(e, 'samples', 'examples'));
          return (
            <>
              {keys.length === 0 ? (
                <pre className="small">{JSON.stringify(e, null, 2)}</pre>
              ) : (
                <div className="table-wrap">
                  <table data-testid="eval-table">
                    <thead>
                      <tr>
                        <th scope="col">Metric</th>
                        <th scope="col" className="num">
                          Base model
                        </th>
                        <th scope="col" className="num">
                          With adapter
                        </th>
                        <th scope="col" className="num">
                          Change
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {keys.map((k) => {
                        const b = Number(before[k]);
                        const a = Number(after[k]);
                        const change =
                          Number.isFinite(a) && Number.isFinite(b) && b !== 0
                            ? ((a - b) / Math.abs(b)) * 100
                            : undefined;
                        return (
                          <tr key={k}>
                            <td>{k}</td>
                            <td className="num">{fmt(b)}</td>
                            <td className="num">{fmt(a)}</td>
                            <td className="num">
                              {change === undefined ? '—' : `${change > 0 ? '+' : ''}${change.toFixed(1)}%`}
                            </td>
                          </tr>
                        );
                      })}
                    </tbody>
                  </table>
                </div>
              )}
              {samples.length > 0 && (
                <>
                  <h3>Samples</h3>
                  {samples.slice(0, 3).map((s, i) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: fixed list
                    <div key={i} className="small" style={{ marginBottom: 10 }}>
                      <div>
                        <strong>Prompt:</strong> {String(pick(s, 'prompt') ?? '')}
                      </div>
                      <div>
                        <strong>Before:</strong> {String(pick(s, 'before') ?? '')}
                      </div>
                      <div>
                        <strong>After:</strong> {String(pick(s, 'after') ?? '')}
                      </div>
                    </div>
                  ))}
                </>
              )}
            </>
          );
        }}
      </Async>
    </div>
  );
}

function Publish({ id, job, onDone }: { id: string; job: Job; onDone: () => void }) {
  const w = useWallet();
  const [pin, setPin] = useState('0.01');
  const [pout, setPout] = useState('0.02');
  const [result, setResult] = useState<Record<string, unknown>>();
  const [error, setError] = useState<unknown>();
  const already = pick(job, 'modelId', 'publishedModelId');
  return (
    <div className="card">
      <h2 style={{ marginTop: 0 }}>Publish</h2>
      <p className="muted">
        Register the adapter on-chain with its lineage and a price per 1,000 tokens, paid in OPEN.
      </p>
      {already !== undefined && !result && (
        <Notice kind="ok">
          Published as <Link to={`/explorer/models/${seg(String(already))}`}>{String(already)}</Link>.
        </Notice>
      )}
      {already === undefined && !result && (
        <>
          <div className="cols">
            <Field label="Price per 1K input tokens (OPEN)">
              {(fid) => (
                <input id={fid} value={pin} inputMode="decimal" onChange={(e) => setPin(e.target.value)} />
              )}
            </Field>
            <Field label="Price per 1K output tokens (OPEN)">
              {(fid) => (
                <input id={fid} value={pout} inputMode="decimal" onChange={(e) => setPout(e.target.value)} />
              )}
            </Field>
          </div>
          <ActionButton
            className="btn btn-primary"
            disabled={!w.signedIn}
            busyLabel="Publishing…"
            action={() =>
              api.post(`/api/factory/jobs/${seg(id)}/publish`, {
                pricePerKInput: parseOpen(pin, 'Input price'),
                pricePerKOutput: parseOpen(pout, 'Output price'),
              })
            }
            onDone={(r) => {
              setResult(r as Record<string, unknown>);
              setError(undefined);
              onDone();
            }}
            onError={setError}
          >
            Publish model
          </ActionButton>
        </>
      )}
      <div aria-live="polite" style={{ marginTop: 12 }}>
        {error !== undefined && <ErrorBox error={error} title="Publishing failed" />}
        {result && (
          <Notice kind="ok">
            Published model{' '}
            <Link to={`/explorer/models/${seg(String(pick(result, 'modelId')))}`}>
              {String(pick(result, 'modelId'))}
            </Link>
            , transaction <Hash value={pick(result, 'txHash')} />.{' '}
            <Link to={`/playground?model=${encodeURIComponent(String(pick(result, 'modelId')))}`}>
              Open in the Playground
            </Link>
          </Notice>
        )}
      </div>
      {!w.signedIn && <p className="small muted">{errorMessage('Sign in to publish.')}</p>}
    </div>
  );
}

interface Turn {
  id: number;
  prompt: string;
  text?: string;
  error?: unknown;
}
let turnId = 1;

/** POST /api/factory/jobs/:id/chat: the owner tries the finished adapter before publishing it. */
function SandboxChat({ id }: { id: string }) {
  const w = useWallet();
  const [turns, setTurns] = useState<Turn[]>([]);
  const [input, setInput] = useState('');
  const [busy, setBusy] = useState(false);

  async function send(e: FormEvent) {
    e.preventDefault();
    const prompt = input.trim();
    if (!prompt || busy) return;
    const t: Turn = { id: turnId++, prompt };
    setTurns((list) => [...list, t]);
    setInput('');
    setBusy(true);
    try {
      const r = await api.post(`/api/factory/jobs/${seg(id)}/chat`, { prompt, maxTokens: 64 });
      setTurns((list) =>
        list.map((x) => (x.id === t.id ? { ...x, text: String(pick(r, 'text') ?? '') } : x)),
      );
    } catch (err) {
      setTurns((list) => list.map((x) => (x.id === t.id ? { ...x, error: err } : x)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="chat">
      <div className="chat-log" aria-live="polite" aria-busy={busy} data-testid="sandbox-log">
        {turns.length === 0 && (
          <p className="muted">Give the adapter the start of a text; it continues it.</p>
        )}
        {turns.map((t) => (
          <div key={t.id} className="chat-turn">
            <div className="msg msg-user">
              <span className="sr-only">You: </span>
              {t.prompt}
            </div>
            <div
              className="msg msg-assistant"
              data-testid="sandbox-answer"
              data-done={t.text !== undefined || t.error !== undefined}
            >
              <span className="sr-only">Adapter: </span>
              {t.error !== undefined ? (
                <ErrorBox error={t.error} title="No answer" />
              ) : t.text === undefined ? (
                <span className="muted">…</span>
              ) : (
                <>
                  <span className="muted">{t.prompt}</span>
                  {t.text}
                </>
              )}
            </div>
          </div>
        ))}
      </div>
      <form className="chat-input" onSubmit={send}>
        <label htmlFor="sandbox-input" className="sr-only">
          Prompt
        </label>
        <textarea
          id="sandbox-input"
          rows={2}
          value={input}
          onChange={(e) => setInput(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) {
              e.preventDefault();
              e.currentTarget.form?.requestSubmit();
            }
          }}
          placeholder="Type a prompt (Enter to send)"
        />
        <button type="submit" className="btn btn-primary" disabled={busy || !input.trim() || !w.signedIn}>
          {busy ? 'Generating…' : 'Send'}
        </button>
      </form>
    </div>
  );
}
