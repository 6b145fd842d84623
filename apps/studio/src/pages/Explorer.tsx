import { useEffect, useState } from 'react';
import { api, formatOpen, seg } from '../api.ts';
import { LineageGraph } from '../charts.tsx';
import { AttributionPanel, HighlightedAnswer, locateSpans, type Receipt } from '../chat.tsx';
import { Link, navigate } from '../router.tsx';
import {
  ActionButton,
  Async,
  asList,
  ErrorBox,
  Hash,
  Notice,
  PageHeader,
  pick,
  useLoad,
  when,
} from '../ui.tsx';
import { buildReport, downloadJson, lineageGraph, loadModel, loadModels, readLineage } from './lineage.ts';

export function Explorer({ modelId, receiptId }: { modelId?: string; receiptId?: string }) {
  const models = useLoad((s) => loadModels(s), []);
  const selected = modelId ?? String(pick(models.data?.[0], 'id', 'modelId') ?? '');
  return (
    <section>
      <PageHeader
        title="Explorer"
        lead="Where a model came from, what an answer's receipt proves, and an audit report to keep."
      />
      <div className="grid-2">
        <div className="card">
          <h2 style={{ marginTop: 0 }}>Model lineage</h2>
          <Async state={models} label="Loading models…" empty="No model has been published yet.">
            {(list) => (
              <>
                <div className="field">
                  <label htmlFor="explorer-model">Model</label>
                  <select
                    id="explorer-model"
                    value={selected}
                    onChange={(e) => navigate(`/explorer/models/${seg(e.target.value)}`)}
                  >
                    {list.map((m) => {
                      const id = String(pick(m, 'id', 'modelId'));
                      return (
                        <option key={id} value={id}>
                          {String(pick(m, 'name') ?? id)}
                        </option>
                      );
                    })}
                  </select>
                </div>
                {selected && <ModelLineage id={selected} />}
              </>
            )}
          </Async>
        </div>
        <VerifyReceipt initial={receiptId} />
      </div>
    </section>
  );
}

function ModelLineage({ id }: { id: string }) {
  const model = useLoad((s) => loadModel(id, s), [id]);
  const [error, setError] = useState<unknown>();
  // datanet names for the graph; the lineage itself carries only ids and versions
  const names = useLoad(
    (s) =>
      api
        .get('/api/datanets', s)
        .then((r) =>
          Object.fromEntries(
            asList(r, 'datanets').map((d) => [String(pick(d, 'id')), String(pick(d, 'name'))]),
          ),
        )
        .catch(() => ({}) as Record<string, string>),
    [],
  );
  return (
    <Async state={model} label="Loading lineage…">
      {(m) => {
        const g = lineageGraph(m, names.data);
        const l = readLineage(m);
        return (
          <>
            <LineageGraph nodes={g.nodes} edges={g.edges} />
            {pick(m, 'source') === 'factory-job' && (
              <p className="small muted">
                Read from training job {String(pick(m, 'jobId'))}: this node does not offer GET /api/models
                yet, so the on-chain registry record is not shown.
              </p>
            )}
            <dl className="kv small" style={{ marginTop: 12 }}>
              <dt>Model</dt>
              <dd>{String(pick(m, 'id', 'modelId'))}</dd>
              <dt>Owner</dt>
              <dd>
                <Hash value={pick(m, 'owner')} n={4} />
              </dd>
              <dt>Price</dt>
              <dd>
                {formatOpen(pick(m, 'pricePerKInput'), 6)} in · {formatOpen(pick(m, 'pricePerKOutput'), 6)}{' '}
                out per 1K tokens
              </dd>
              <dt>Base hash</dt>
              <dd>
                <Hash value={l.base.hash} />
              </dd>
              <dt>Adapter hash</dt>
              <dd>
                <Hash value={l.adapter.hash} />
              </dd>
              <dt>Config hash</dt>
              <dd>
                <Hash value={l.adapter.configHash} />
              </dd>
              <dt>Registered</dt>
              <dd>
                <Hash value={pick(m, 'txHash')} /> {when(pick(m, 'createdAt', 'publishedAt'))}
              </dd>
            </dl>
            <div className="row" style={{ marginTop: 12 }}>
              <ActionButton
                className="btn"
                busyLabel="Building…"
                action={() => buildReport(id)}
                onDone={(r) => downloadJson(`openledger-audit-${id}.json`, r)}
                onError={setError}
              >
                Export audit report (JSON)
              </ActionButton>
              <Link to={`/report/${seg(id)}`} className="btn btn-ghost">
                Printable report
              </Link>
              <Link to={`/playground?model=${encodeURIComponent(id)}`} className="btn btn-ghost">
                Try it
              </Link>
            </div>
            {error !== undefined && <ErrorBox error={error} title="Report failed" />}
          </>
        );
      }}
    </Async>
  );
}

function VerifyReceipt({ initial }: { initial?: string }) {
  const [input, setInput] = useState(initial ?? '');
  const [receipt, setReceipt] = useState<Receipt>();
  const [result, setResult] = useState<Record<string, unknown>>();
  const [error, setError] = useState<unknown>();
  const [answer, setAnswer] = useState<string>();

  async function verify(text: string) {
    setError(undefined);
    setResult(undefined);
    const t = text.trim();
    if (!t) throw new Error('Paste a receipt id or the receipt JSON.');
    let r: Receipt;
    if (t.startsWith('{')) {
      try {
        r = JSON.parse(t) as Receipt;
      } catch {
        throw new Error('The receipt JSON does not parse.');
      }
    } else {
      const got = await api.get<Receipt>(`/api/attribution/receipts/${seg(t)}`);
      r = (pick<Receipt>(got, 'receipt') ?? got) as Receipt;
      setAnswer(pick<string>(got, 'output'));
    }
    setReceipt(r);
    const v = await api.post<Record<string, unknown>>('/api/attribution/verify', { receipt: r });
    setResult(v);
  }

  // biome-ignore lint/correctness/useExhaustiveDependencies: verify the linked receipt once
  useEffect(() => {
    if (initial) verify(initial).catch(setError);
  }, [initial]);

  const valid = pick(result, 'valid', 'ok') === true;
  return (
    <div className="card">
      <h2 style={{ marginTop: 0 }}>Verify a receipt</h2>
      <div className="field">
        <label htmlFor="receipt-input">Receipt id or JSON</label>
        <textarea
          id="receipt-input"
          style={{ minHeight: 80 }}
          value={input}
          onChange={(e) => setInput(e.target.value)}
        />
      </div>
      <ActionButton
        className="btn btn-primary"
        busyLabel="Verifying…"
        action={() => verify(input)}
        onError={setError}
      >
        Verify
      </ActionButton>
      <div aria-live="polite" style={{ marginTop: 12 }}>
        {error !== undefined && <ErrorBox error={error} title="Verification failed" />}
        {result && (
          <Notice kind={valid ? 'ok' : 'error'}>
            <strong data-testid="receipt-valid">
              {valid ? '✓ Receipt is valid' : '✗ Receipt does not verify'}
            </strong>
            {[
              ...asList<string>(pick(result, 'errors', 'reasons')),
              ...(pick<string>(result, 'reason') ? [String(pick(result, 'reason'))] : []),
            ].map((e) => (
              <div key={e} className="small">
                {e}
              </div>
            ))}
          </Notice>
        )}
        {receipt && (
          <>
            {answer && (
              <div className="msg msg-assistant" style={{ maxWidth: 'none', marginBottom: 12 }}>
                <HighlightedAnswer text={answer} spans={locateSpans(answer, receipt)} />
              </div>
            )}
            <AttributionPanel receipt={receipt} answer={answer} />
          </>
        )}
      </div>
    </div>
  );
}
