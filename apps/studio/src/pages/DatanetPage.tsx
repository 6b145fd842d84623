import { useRef, useState } from 'react';
import { api, errorMessage, postWithProgress, seg } from '../api.ts';
import { Markdown } from '../markdown.tsx';
import { Link, navigate } from '../router.tsx';
import {
  ActionButton,
  Async,
  asList,
  clip,
  ErrorBox,
  Field,
  Hash,
  type Loaded,
  Notice,
  PageHeader,
  Progress,
  pick,
  SignInHint,
  Tabs,
  useLoad,
  when,
  withKeys,
} from '../ui.tsx';
import { useWallet } from '../wallet.tsx';
import { parseTags } from './DatanetCreate.tsx';
import { type Datanet, datanetVersion } from './Datanets.tsx';

export type Row = Record<string, unknown>;
type TabKey = 'overview' | 'contribute' | 'review' | 'rows' | 'versions';
const TABS: TabKey[] = ['overview', 'contribute', 'review', 'rows', 'versions'];
const MAX_BYTES = 5 * 1024 * 1024;

export const rowId = (r: Row) => String(pick(r, 'rowId', 'id') ?? '');

/** The human text of a row, whatever its schema. */
export function rowText(r: Row): string {
  const direct = pick<string>(r, 'text', 'content', 'preview');
  if (typeof direct === 'string') return direct;
  const data = pick<Record<string, unknown>>(r, 'data', 'fields', 'value') ?? r;
  const prompt = pick(data, 'prompt');
  if (prompt !== undefined) return `${String(prompt)} → ${String(pick(data, 'completion') ?? '')}`;
  const text = pick(data, 'text');
  if (text !== undefined)
    return `${String(text)}${pick(data, 'label') ? ` [${String(pick(data, 'label'))}]` : ''}`;
  return typeof data === 'string' ? data : JSON.stringify(data);
}

export function StatusPill({ status }: { status: unknown }) {
  const s = String(status ?? 'unknown');
  const cls = /approv|valid|pass|ok|done|succeed|complete|executed/i.test(s)
    ? 'pill-ok'
    : /reject|fail|error|invalid|defeat|cancel/i.test(s)
      ? 'pill-bad'
      : /pend|queue|run|active/i.test(s)
        ? 'pill-warn'
        : 'pill-info';
  return <span className={`pill ${cls}`}>{s}</span>;
}

function Checks({ checks, accepted }: { checks: unknown; accepted?: boolean }) {
  const list = asList<Record<string, unknown>>(checks);
  if (list.length === 0 && accepted)
    return (
      <span className="small ok-text">
        ✓ all checks passed <span className="muted">(encoding, length, schema, duplicates)</span>
      </span>
    );
  if (list.length === 0) {
    if (checks && typeof checks === 'object' && !Array.isArray(checks))
      return (
        <ul className="small" style={{ margin: 0, paddingLeft: 16 }}>
          {Object.entries(checks as Record<string, unknown>).map(([k, v]) => (
            <li key={k}>
              {v === true || v === 'pass' ? '✓' : v === false || v === 'fail' ? '✗' : '•'} {k}
              {typeof v === 'string' && v !== 'pass' && v !== 'fail' ? `: ${v}` : ''}
            </li>
          ))}
        </ul>
      );
    return <span className="muted">—</span>;
  }
  return (
    <ul className="small" style={{ margin: 0, paddingLeft: 0, listStyle: 'none' }}>
      {withKeys(list, (c) => String(pick(c, 'name', 'check', 'code', 'id') ?? 'check')).map(
        ({ item: c, key }) => {
          const ok = pick(c, 'ok', 'passed', 'pass');
          // a "problem" ({ code, message }) is a failed check; { name, ok } is a check result
          const status = String(
            pick(c, 'status', 'result') ?? (ok === undefined ? 'fail' : ok ? 'pass' : 'fail'),
          );
          const good = ok === true || /pass|ok/i.test(status);
          const warn = /warn/i.test(status);
          return (
            <li key={key}>
              <span className={good ? 'ok-text' : warn ? '' : 'error-text'} aria-hidden="true">
                {good ? '✓' : warn ? '!' : '✗'}
              </span>{' '}
              <span className="sr-only">{good ? 'passed' : warn ? 'warning' : 'failed'}</span>
              {String(pick(c, 'name', 'check', 'code', 'id') ?? 'check').replace(/_/g, ' ')}
              {pick(c, 'message', 'detail', 'reason') ? (
                <span className="muted"> — {String(pick(c, 'message', 'detail', 'reason'))}</span>
              ) : null}
            </li>
          );
        },
      )}
    </ul>
  );
}

export function DatanetPage({ id, tab, query }: { id: string; tab?: string; query: URLSearchParams }) {
  const w = useWallet();
  const dn = useLoad(
    (s) =>
      api
        .get<Datanet>(`/api/datanets/${seg(id)}`, s)
        .then((r) => (pick<Datanet>(r, 'datanet') ?? r) as Datanet),
    [id],
  );
  const active: TabKey = TABS.includes(tab as TabKey) ? (tab as TabKey) : 'overview';
  const pending = useLoad(
    (s) => api.get(`/api/datanets/${seg(id)}/rows?status=pending`, s).then((r) => asList<Row>(r, 'rows')),
    [id, active],
  );
  const isOwner =
    !!w.address && String(pick(dn.data, 'owner') ?? '').toLowerCase() === w.address.toLowerCase();
  return (
    <section>
      <p className="small">
        <Link to="/datanets">← All datanets</Link>
      </p>
      <Async state={dn} label="Loading datanet…">
        {(d) => (
          <>
            <PageHeader
              title={String(pick(d, 'name') ?? id)}
              lead={String(pick(d, 'summary') ?? '')}
              actions={
                <Link to={`/datanets/${seg(id)}/contribute`} className="btn btn-primary">
                  Contribute
                </Link>
              }
            />
            <Tabs
              label="Datanet sections"
              tabs={[
                { key: 'overview', label: 'Overview' },
                { key: 'contribute', label: 'Contribute' },
                { key: 'review', label: 'Review', badge: pending.data?.length },
                { key: 'rows', label: 'Rows & proofs' },
                { key: 'versions', label: 'Versions' },
              ]}
              active={active}
              onChange={(k) => navigate(`/datanets/${seg(id)}/${k}`)}
            />
            <div role="tabpanel" aria-labelledby={`tab-${active}`}>
              {active === 'overview' && (
                <>
                  <Overview d={d} isOwner={isOwner} onSaved={dn.reload} />
                  <Members id={id} d={d} isOwner={isOwner} />
                </>
              )}
              {active === 'contribute' && <Contribute id={id} d={d} onDone={pending.reload} />}
              {active === 'review' && (
                <Review id={id} isOwner={isOwner} pending={pending} onPublished={dn.reload} />
              )}
              {active === 'rows' && <Rows id={id} highlight={query.get('row') ?? undefined} />}
              {active === 'versions' && <Versions id={id} />}
            </div>
          </>
        )}
      </Async>
    </section>
  );
}

function Overview({ d, isOwner, onSaved }: { d: Datanet; isOwner: boolean; onSaved: () => void }) {
  const [editing, setEditing] = useState(false);
  const [summary, setSummary] = useState(String(pick(d, 'summary') ?? ''));
  const [description, setDescription] = useState(String(pick(d, 'description') ?? ''));
  const [tags, setTags] = useState(asList<string>(pick(d, 'tags')).join(', '));
  const [error, setError] = useState<unknown>();
  const v = datanetVersion(d);
  return (
    <div className="grid-2">
      <div className="card">
        {editing ? (
          <div>
            <Field label="Summary">
              {(fid) => <input id={fid} value={summary} onChange={(e) => setSummary(e.target.value)} />}
            </Field>
            <Field label="Description (Markdown)">
              {(fid) => (
                <textarea id={fid} value={description} onChange={(e) => setDescription(e.target.value)} />
              )}
            </Field>
            <Field label="Tags" hint="Comma separated.">
              {(fid) => <input id={fid} value={tags} onChange={(e) => setTags(e.target.value)} />}
            </Field>
            {error !== undefined && <ErrorBox error={error} />}
            <div className="row">
              <ActionButton
                className="btn btn-primary"
                action={() =>
                  api.patch(`/api/datanets/${seg(String(pick(d, 'id')))}`, {
                    summary,
                    description,
                    tags: parseTags(tags),
                  })
                }
                onDone={() => {
                  setEditing(false);
                  onSaved();
                }}
                onError={setError}
              >
                Save
              </ActionButton>
              <button type="button" className="btn btn-ghost" onClick={() => setEditing(false)}>
                Cancel
              </button>
            </div>
          </div>
        ) : (
          <>
            <div className="spread">
              <h2 style={{ marginTop: 0 }}>About</h2>
              {isOwner && (
                <button type="button" className="btn btn-small" onClick={() => setEditing(true)}>
                  Edit
                </button>
              )}
            </div>
            <Markdown source={String(pick(d, 'description') ?? '')} />
          </>
        )}
      </div>
      <div className="card">
        <h2 style={{ marginTop: 0 }}>Details</h2>
        <dl className="kv">
          <dt>Version</dt>
          <dd>{v ? `v${v}` : 'not published yet'}</dd>
          <dt>Rows</dt>
          <dd>
            {String(pick(d, 'approvedCount', 'rowCount') ?? '—')} approved
            {pick(d, 'pendingCount') ? ` · ${String(pick(d, 'pendingCount'))} pending` : ''}
          </dd>
          <dt>Owner</dt>
          <dd>
            <Hash value={pick(d, 'owner')} n={4} />
          </dd>
          <dt>Licence</dt>
          <dd>{String(pick(d, 'license', 'licence') ?? '—')}</dd>
          <dt>Visibility</dt>
          <dd>{String(pick(d, 'visibility') ?? '—')}</dd>
          <dt>Policy</dt>
          <dd>{String(pick(d, 'policy') ?? '—')}</dd>
          <dt>Schema</dt>
          <dd>{String(pick(d, 'schema') ?? '—')}</dd>
          <dt>Root</dt>
          <dd>
            <Hash value={pick(d, 'root', 'latestRoot')} />
          </dd>
          <dt>Tags</dt>
          <dd>
            {asList<string>(pick(d, 'tags')).map((t) => (
              <span key={t} className="tag">
                {t}
              </span>
            ))}
          </dd>
        </dl>
      </div>
    </div>
  );
}

function toBase64(buf: ArrayBuffer): string {
  const bytes = new Uint8Array(buf);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

function Contribute({ id, d, onDone }: { id: string; d: Datanet; onDone: () => void }) {
  const w = useWallet();
  const fileRef = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File>();
  const [progress, setProgress] = useState<number>();
  const [result, setResult] = useState<Record<string, unknown>>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  async function upload() {
    if (!file) return;
    setError(undefined);
    setResult(undefined);
    if (file.size > MAX_BYTES) {
      setError(
        new Error(
          `${file.name} is ${(file.size / 1048576).toFixed(1)} MB; the limit is 5 MB per submission.`,
        ),
      );
      return;
    }
    setBusy(true);
    setProgress(0);
    try {
      const contentBase64 = toBase64(await file.arrayBuffer());
      const res = await postWithProgress<Record<string, unknown>>(
        `/api/datanets/${seg(id)}/contributions`,
        { filename: file.name, contentBase64 },
        setProgress,
      );
      setResult(res);
      onDone();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  const rows = asList<Row>(pick(result, 'rows'));
  const accepted = rows.filter(
    (r) => pick(r, 'accepted') !== false && !/reject/i.test(String(pick(r, 'status') ?? '')),
  ).length;
  return (
    <div className="card">
      <h2 style={{ marginTop: 0 }}>Contribute a file</h2>
      <p className="muted">
        <code>.txt</code>, <code>.md</code>, <code>.jsonl</code>, <code>.csv</code>, <code>.pdf</code> (UTF-8,
        at most 5 MB). Each file is parsed into rows of schema{' '}
        <code>{String(pick(d, 'schema') ?? 'text')}</code>, checked, and queued for the owner's review.
      </p>
      <SignInHint what="contribute" />
      <div className="field">
        <label htmlFor="contrib-file">File</label>
        <input
          id="contrib-file"
          ref={fileRef}
          type="file"
          accept=".txt,.md,.jsonl,.csv,.pdf,text/plain,text/markdown,text/csv,application/pdf"
          onChange={(e) => {
            setFile(e.target.files?.[0]);
            setResult(undefined);
            setError(undefined);
            setProgress(undefined);
          }}
        />
        {file && (
          <div className="field-msg muted">
            {file.name} · {(file.size / 1024).toFixed(1)} KB
          </div>
        )}
      </div>
      <div className="row">
        <button
          type="button"
          className="btn btn-primary"
          disabled={!file || busy || !w.signedIn}
          onClick={() => void upload()}
        >
          {busy ? 'Uploading…' : 'Upload'}
        </button>
      </div>
      {progress !== undefined && (
        <div style={{ marginTop: 12 }}>
          <Progress value={progress} label="Upload progress" />
        </div>
      )}
      <div aria-live="polite">
        {error !== undefined && <ErrorBox error={error} title="Upload failed" />}
        {result && (
          <>
            <Notice kind="ok">
              Contribution{' '}
              {String(pick(result, 'contributionId') ?? pick(pick(result, 'contribution'), 'id') ?? '')}{' '}
              received: {accepted} of {rows.length} part{rows.length === 1 ? '' : 's'} accepted for review
            </Notice>
            <div className="table-wrap">
              <table data-testid="check-results">
                <caption className="sr-only">Check results per row</caption>
                <thead>
                  <tr>
                    <th scope="col">Part</th>
                    <th scope="col">Row</th>
                    <th scope="col">Result</th>
                    <th scope="col">Checks</th>
                  </tr>
                </thead>
                <tbody>
                  {withKeys(rows, (r) => String(pick(r, 'index', 'rowId', 'id') ?? '')).map(
                    ({ item: r, key }) => {
                      const ok = pick(r, 'accepted');
                      return (
                        <tr key={key}>
                          <td className="small">{String(pick(r, 'source') ?? pick(r, 'index') ?? '')}</td>
                          <td>
                            <Hash value={rowId(r)} n={4} />
                          </td>
                          <td>
                            <StatusPill
                              status={ok === undefined ? pick(r, 'status') : ok ? 'accepted' : 'rejected'}
                            />
                          </td>
                          <td>
                            <Checks checks={pick(r, 'problems', 'checks')} accepted={ok === true} />
                          </td>
                        </tr>
                      );
                    },
                  )}
                </tbody>
              </table>
            </div>
          </>
        )}
      </div>
    </div>
  );
}

function Review({
  id,
  isOwner,
  pending,
  onPublished,
}: {
  id: string;
  isOwner: boolean;
  pending: Loaded<Row[]>;
  onPublished: () => void;
}) {
  const w = useWallet();
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [reason, setReason] = useState('');
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string }>();
  const [published, setPublished] = useState<Record<string, unknown>>();
  const rows = pending.data ?? [];
  const allSelected = rows.length > 0 && rows.every((r) => selected.has(rowId(r)));
  const withChecks = rows.some((r) => pick(r, 'checks', 'problems') !== undefined);

  async function decide(decision: 'approve' | 'reject') {
    const rowIds = [...selected];
    if (decision === 'reject' && !reason.trim()) throw new Error('Give a reason for the rejection.');
    await api.post(`/api/datanets/${seg(id)}/review`, {
      rowIds,
      decision,
      ...(reason.trim() ? { reason: reason.trim() } : {}),
    });
    return { decision, n: rowIds.length };
  }

  return (
    <div>
      {!isOwner && (
        <Notice kind="info">
          Only the datanet's owner and the reviewers it names can approve, reject and publish. You can see
          what is waiting.
        </Notice>
      )}
      <SignInHint what="review" />
      <div className="card">
        <div className="spread">
          <h2 style={{ marginTop: 0 }}>Review queue</h2>
          <ActionButton
            className="btn btn-primary"
            busyLabel="Publishing…"
            disabled={!w.signedIn}
            action={() => api.post(`/api/datanets/${seg(id)}/publish`, {})}
            onDone={(r) => {
              setPublished(r as Record<string, unknown>);
              setMessage(undefined);
              onPublished();
            }}
            onError={(e) => setMessage({ kind: 'error', text: errorMessage(e) })}
          >
            Publish version
          </ActionButton>
        </div>
        <div aria-live="polite">
          {message && <Notice kind={message.kind}>{message.text}</Notice>}
          {published && (
            <Notice kind="ok">
              Published <strong>v{String(pick(published, 'version'))}</strong> with{' '}
              {String(pick(published, 'rowCount') ?? '?')} rows. Root <Hash value={pick(published, 'root')} />
              , transaction <Hash value={pick(published, 'txHash')} />.
            </Notice>
          )}
        </div>
        <Async state={pending} label="Loading pending rows…" empty="Nothing is waiting for review.">
          {(list) => (
            <>
              <div className="row" style={{ marginBottom: 10 }}>
                <label className="inline" style={{ flex: 1, minWidth: 200 }}>
                  <span className="sr-only">Reason (required to reject)</span>
                  <input
                    placeholder="Reason (required to reject)"
                    value={reason}
                    onChange={(e) => setReason(e.target.value)}
                    style={{ width: '100%' }}
                  />
                </label>
                <ActionButton
                  className="btn btn-ok"
                  disabled={!w.signedIn || selected.size === 0}
                  action={() => decide('approve')}
                  onDone={() => {
                    setMessage({
                      kind: 'ok',
                      text: `Approved ${selected.size} row(s). Publish a version to anchor them on-chain.`,
                    });
                    setSelected(new Set());
                    pending.reload();
                  }}
                  onError={(e) => setMessage({ kind: 'error', text: errorMessage(e) })}
                >
                  Approve {selected.size > 0 ? `(${selected.size})` : ''}
                </ActionButton>
                <ActionButton
                  className="btn btn-danger"
                  disabled={!w.signedIn || selected.size === 0}
                  action={() => decide('reject')}
                  onDone={() => {
                    setMessage({ kind: 'ok', text: `Rejected ${selected.size} row(s).` });
                    setSelected(new Set());
                    setReason('');
                    pending.reload();
                  }}
                  onError={(e) => setMessage({ kind: 'error', text: errorMessage(e) })}
                >
                  Reject {selected.size > 0 ? `(${selected.size})` : ''}
                </ActionButton>
              </div>
              <div className="table-wrap">
                <table data-testid="review-table">
                  <caption className="sr-only">Rows waiting for review</caption>
                  <thead>
                    <tr>
                      <th scope="col">
                        <input
                          type="checkbox"
                          aria-label="Select all rows"
                          checked={allSelected}
                          onChange={() => setSelected(allSelected ? new Set() : new Set(list.map(rowId)))}
                        />
                      </th>
                      <th scope="col">Content</th>
                      <th scope="col">Contributor</th>
                      {withChecks && <th scope="col">Checks</th>}
                    </tr>
                  </thead>
                  <tbody>
                    {list.map((r) => {
                      const rid = rowId(r);
                      return (
                        <tr key={rid}>
                          <td>
                            <input
                              type="checkbox"
                              aria-label={`Select row ${rid}`}
                              checked={selected.has(rid)}
                              onChange={() =>
                                setSelected((s) => {
                                  const n = new Set(s);
                                  if (n.has(rid)) n.delete(rid);
                                  else n.add(rid);
                                  return n;
                                })
                              }
                            />
                          </td>
                          <td className="cell-text">{clip(rowText(r), 400)}</td>
                          <td>
                            <Hash value={pick(r, 'contributor', 'address')} n={4} />
                          </td>
                          {withChecks && (
                            <td>
                              <Checks checks={pick(r, 'checks', 'problems')} />
                            </td>
                          )}
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            </>
          )}
        </Async>
      </div>
    </div>
  );
}

export function ProofView({ proof }: { proof: Record<string, unknown> }) {
  const valid = pick(proof, 'valid') === true;
  const matches =
    String(pick(proof, 'root') ?? '').toLowerCase() ===
    String(pick(proof, 'onchainRoot') ?? '').toLowerCase();
  return (
    <div className={`notice ${valid ? 'notice-ok' : 'notice-error'}`} data-testid="proof-result">
      <strong>
        {valid
          ? '✓ Valid proof against the on-chain root'
          : '✗ Proof does not verify against the on-chain root'}
      </strong>
      <dl className="kv small" style={{ marginTop: 8 }}>
        <dt>Datanet / version</dt>
        <dd>
          {String(pick(proof, 'datanetId') ?? '—')} · v{String(pick(proof, 'version') ?? '?')}
        </dd>
        <dt>Leaf</dt>
        <dd>
          <Hash value={pick(proof, 'leaf')} />
        </dd>
        <dt>Version root</dt>
        <dd>
          <Hash value={pick(proof, 'root')} />
        </dd>
        <dt>On-chain root</dt>
        <dd>
          <Hash value={pick(proof, 'onchainRoot')} />{' '}
          {matches ? (
            <span className="ok-text">(matches)</span>
          ) : (
            <span className="error-text">(differs)</span>
          )}
        </dd>
        <dt>Proof</dt>
        <dd>{asList(pick(proof, 'proof')).length} sibling hashes</dd>
      </dl>
    </div>
  );
}

function Rows({ id, highlight }: { id: string; highlight?: string }) {
  const [status, setStatus] = useState('approved');
  const rows = useLoad(
    (s) => api.get(`/api/datanets/${seg(id)}/rows?status=${status}`, s).then((r) => asList<Row>(r, 'rows')),
    [id, status],
  );
  const [proofs, setProofs] = useState<Record<string, Record<string, unknown> | { error: unknown }>>({});
  return (
    <div className="card">
      <div className="spread">
        <h2 style={{ marginTop: 0 }}>Rows</h2>
        <label className="inline row">
          <span className="small muted">Status</span>
          <select value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="approved">Approved</option>
            <option value="pending">Pending</option>
            <option value="rejected">Rejected</option>
          </select>
        </label>
      </div>
      <Async state={rows} label="Loading rows…" empty={`No ${status} rows.`}>
        {(list) => (
          <div className="table-wrap">
            <table data-testid="rows-table">
              <thead>
                <tr>
                  <th scope="col">Row</th>
                  <th scope="col">Content</th>
                  <th scope="col">Contributor</th>
                  <th scope="col">{status === 'rejected' ? 'Reason' : 'Proof'}</th>
                </tr>
              </thead>
              <tbody>
                {list.map((r) => {
                  const rid = rowId(r);
                  const p = proofs[rid];
                  return (
                    <tr key={rid} className={highlight === rid ? 'diff-add' : undefined}>
                      <td>
                        <Link to={`/rows/${seg(rid)}`}>
                          <Hash value={rid} n={4} />
                        </Link>
                      </td>
                      <td className="cell-text">{clip(rowText(r), 300)}</td>
                      <td>
                        <Hash value={pick(r, 'contributor', 'address')} n={4} />
                      </td>
                      <td style={{ minWidth: 200 }}>
                        {status === 'rejected' ? (
                          String(pick(r, 'reason', 'rejectReason') ?? '—')
                        ) : status === 'approved' ? (
                          p ? (
                            'error' in p ? (
                              <ErrorBox error={p.error} />
                            ) : (
                              <ProofView proof={p} />
                            )
                          ) : (
                            <ActionButton
                              className="btn btn-small"
                              action={() => api.get(`/api/rows/${seg(rid)}/proof`)}
                              onDone={(res) =>
                                setProofs((m) => ({ ...m, [rid]: res as Record<string, unknown> }))
                              }
                              onError={(error) => setProofs((m) => ({ ...m, [rid]: { error } }))}
                            >
                              Proof
                            </ActionButton>
                          )
                        ) : (
                          <span className="muted">after approval</span>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Async>
    </div>
  );
}

function Versions({ id }: { id: string }) {
  const versions = useLoad(
    (s) =>
      api
        .get(`/api/datanets/${seg(id)}/versions`, s)
        .then((r) => asList<Record<string, unknown>>(r, 'versions')),
    [id],
  );
  const [shown, setShown] = useState<number>();
  return (
    <div className="card">
      <h2 style={{ marginTop: 0 }}>Versions</h2>
      <Async
        state={versions}
        label="Loading versions…"
        empty="No version published yet. Approve rows, then publish."
      >
        {(list) => (
          <>
            <div className="table-wrap">
              <table data-testid="versions-table">
                <thead>
                  <tr>
                    <th scope="col">Version</th>
                    <th scope="col" className="num">
                      Rows
                    </th>
                    <th scope="col">Merkle root</th>
                    <th scope="col">Transaction</th>
                    <th scope="col">Published</th>
                    <th scope="col">
                      <span className="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((v) => {
                    const n = Number(pick(v, 'version', 'number'));
                    return (
                      <tr key={n}>
                        <td>v{n}</td>
                        <td className="num">{String(pick(v, 'rowCount', 'rows') ?? '—')}</td>
                        <td>
                          <Hash value={pick(v, 'root')} />
                        </td>
                        <td>
                          <Hash value={pick(v, 'txHash', 'tx')} />
                        </td>
                        <td className="small">{when(pick(v, 'createdAt', 'publishedAt', 'timestamp'))}</td>
                        <td>
                          <div className="row">
                            <button
                              type="button"
                              className="btn btn-small"
                              onClick={() => setShown(shown === n ? undefined : n)}
                              aria-expanded={shown === n}
                            >
                              Diff
                            </button>
                            <a
                              className="btn btn-small btn-ghost"
                              href={`/api/datanets/${seg(id)}/versions/${n}/export`}
                              download={`${id}-v${n}.jsonl`}
                            >
                              Export JSONL
                            </a>
                          </div>
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
            {shown !== undefined && <Diff id={id} version={shown} />}
          </>
        )}
      </Async>
    </div>
  );
}

function DiffRow({ r, sign }: { r: Row; sign: '+' | '−' }) {
  const hasText = pick(r, 'fields', 'text', 'content', 'data') !== undefined;
  const rid = rowId(r);
  return (
    <tr className={sign === '+' ? 'diff-add' : 'diff-del'}>
      <td style={{ width: 24 }}>
        <span aria-hidden="true">{sign}</span>
        <span className="sr-only">{sign === '+' ? 'added' : 'removed'}</span>
      </td>
      <td className="cell-text">
        {typeof r === 'string' ? (
          r
        ) : hasText ? (
          rowText(r)
        ) : (
          <>
            row{' '}
            <Link to={`/rows/${seg(rid)}`}>
              <Hash value={rid} n={6} />
            </Link>{' '}
            <span className="muted">by</span> <Hash value={pick(r, 'contributor')} n={4} />
          </>
        )}
      </td>
    </tr>
  );
}

function Diff({ id, version }: { id: string; version: number }) {
  const from = Math.max(0, version - 1);
  const diff = useLoad(
    (s) => api.get(`/api/datanets/${seg(id)}/versions/${version}/diff?from=${from}`, s),
    [id, version],
  );
  return (
    <div style={{ marginTop: 16 }}>
      <h3>
        Changes from v{from} to v{version}
      </h3>
      <Async state={diff} label="Computing diff…">
        {(d) => {
          const added = asList<Row>(pick(d, 'addedRows') ?? pick(d, 'added'));
          const removed = asList<Row>(pick(d, 'removedRows') ?? pick(d, 'removed'));
          const nAdded = typeof pick(d, 'added') === 'number' ? Number(pick(d, 'added')) : added.length;
          const nRemoved =
            typeof pick(d, 'removed') === 'number' ? Number(pick(d, 'removed')) : removed.length;
          return (
            <>
              <p className="small">
                <span className="ok-text">+{nAdded} added</span> ·{' '}
                <span className="error-text">−{nRemoved} removed</span>
              </p>
              {added.length + removed.length > 0 && (
                <div className="table-wrap">
                  <table data-testid="diff-table">
                    <tbody>
                      {withKeys(added, rowId).map(({ item, key }) => (
                        <DiffRow key={`a${key}`} r={item} sign="+" />
                      ))}
                      {withKeys(removed, rowId).map(({ item, key }) => (
                        <DiffRow key={`r${key}`} r={item} sign="−" />
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </>
          );
        }}
      </Async>
      <p className="small muted">
        Rows are addressed by content hash; the version's Merkle root covers exactly its rows.
      </p>
    </div>
  );
}

/** Allow-list (read access for permissioned datanets, contribute for allow-list policy) and reviewers. */
function Members({ id, d, isOwner }: { id: string; d: Datanet; isOwner: boolean }) {
  const members = useLoad((s) => api.get(`/api/datanets/${seg(id)}/members`, s), [id]);
  const [account, setAccount] = useState('');
  const [error, setError] = useState<unknown>();
  const restricted = pick(d, 'visibility') === 'permissioned' || pick(d, 'policy') === 'allowlist';
  if (!restricted && !isOwner) return null;
  const valid = /^0x[0-9a-fA-F]{40}$/.test(account.trim());
  const done = () => {
    setError(undefined);
    setAccount('');
    members.reload();
  };
  return (
    <div className="card">
      <h2 style={{ marginTop: 0 }}>Access and reviewers</h2>
      <p className="muted small">
        {pick(d, 'visibility') === 'permissioned'
          ? 'Only listed addresses can read this datanet.'
          : pick(d, 'policy') === 'allowlist'
            ? 'Only listed addresses can contribute.'
            : 'Anyone may read and contribute. Reviewers can approve and reject rows on your behalf.'}
      </p>
      <Async state={members} label="Loading members…">
        {(m) => {
          const list = asList<string>(pick(m, 'members'));
          const reviewers = asList<string>(pick(m, 'reviewers'));
          return (
            <div className="cols">
              <div>
                <h3>Allow-listed</h3>
                {list.length === 0 ? (
                  <p className="muted small">Nobody yet.</p>
                ) : (
                  <ul className="small" style={{ paddingLeft: 16 }}>
                    {list.map((a) => (
                      <li key={a}>
                        <Hash value={a} n={6} />{' '}
                        {isOwner && (
                          <ActionButton
                            className="btn btn-small btn-ghost"
                            action={() => api.del(`/api/datanets/${seg(id)}/members/${seg(a)}`)}
                            onDone={done}
                            onError={setError}
                            aria-label={`Revoke ${a}`}
                          >
                            Revoke
                          </ActionButton>
                        )}
                      </li>
                    ))}
                  </ul>
                )}
              </div>
              <div>
                <h3>Reviewers</h3>
                {reviewers.length === 0 ? (
                  <p className="muted small">Only the owner reviews.</p>
                ) : (
                  <ul className="small" style={{ paddingLeft: 16 }}>
                    {reviewers.map((a) => (
                      <li key={a}>
                        <Hash value={a} n={6} />{' '}
                        {isOwner && (
                          <ActionButton
                            className="btn btn-small btn-ghost"
                            action={() =>
                              api.post(`/api/datanets/${seg(id)}/reviewers`, { account: a, enabled: false })
                            }
                            onDone={done}
                            onError={setError}
                            aria-label={`Remove reviewer ${a}`}
                          >
                            Remove
                          </ActionButton>
                        )}
                      </li>
                    ))}
                  </ul>
                )}
              </div>
            </div>
          );
        }}
      </Async>
      {isOwner && (
        <div className="row" style={{ marginTop: 8 }}>
          <label className="inline" style={{ flex: 1, minWidth: 220 }}>
            <span className="sr-only">Address</span>
            <input
              placeholder="0x… address"
              value={account}
              onChange={(e) => setAccount(e.target.value)}
              style={{ width: '100%' }}
            />
          </label>
          <ActionButton
            className="btn"
            disabled={!valid}
            action={() => api.post(`/api/datanets/${seg(id)}/members`, { account: account.trim() })}
            onDone={done}
            onError={setError}
          >
            Grant access
          </ActionButton>
          <ActionButton
            className="btn"
            disabled={!valid}
            action={() =>
              api.post(`/api/datanets/${seg(id)}/reviewers`, { account: account.trim(), enabled: true })
            }
            onDone={done}
            onError={setError}
          >
            Make reviewer
          </ActionButton>
        </div>
      )}
      {error !== undefined && <ErrorBox error={error} title="Access change failed" />}
    </div>
  );
}
