import { api, seg } from '../api.ts';
import { Link } from '../router.tsx';
import { Async, Hash, PageHeader, pick, useLoad, when } from '../ui.tsx';
import { ProofView, rowText, StatusPill } from './DatanetPage.tsx';

export function RowPage({ rowId }: { rowId: string }) {
  const proof = useLoad((s) => api.get<Record<string, unknown>>(`/api/rows/${seg(rowId)}/proof`, s), [rowId]);
  const dn = pick(proof.data, 'datanetId');
  const row = useLoad(
    (s) =>
      dn === undefined
        ? Promise.resolve(undefined)
        : api.get<Record<string, unknown>>(`/api/datanets/${seg(String(dn))}/rows/${seg(rowId)}`, s),
    [dn, rowId],
  );
  return (
    <section>
      <PageHeader
        title="Row and its proof"
        lead={
          <>
            Row <code className="hash">{rowId}</code>: its content and its Merkle proof against the version
            root anchored on-chain.
          </>
        }
      />
      <Async state={proof} label="Fetching the proof…">
        {(p) => (
          <>
            {row.data && (
              <div className="card">
                <div className="spread">
                  <h2 style={{ marginTop: 0 }}>Content</h2>
                  <StatusPill status={pick(row.data, 'status')} />
                </div>
                <p className="cell-text" style={{ maxWidth: 'none' }}>
                  {rowText(row.data)}
                </p>
                <p className="small muted">
                  Contributed by <Hash value={pick(row.data, 'contributor')} n={4} /> ·{' '}
                  {when(pick(row.data, 'createdAt'))} · content hash{' '}
                  <Hash value={pick(row.data, 'contentHash')} />
                </p>
              </div>
            )}
            <div className="card">
              <ProofView proof={p} />
              {dn !== undefined && (
                <p>
                  <Link to={`/datanets/${seg(String(dn))}/rows?row=${encodeURIComponent(rowId)}`}>
                    Open the datanet's rows
                  </Link>
                </p>
              )}
            </div>
          </>
        )}
      </Async>
    </section>
  );
}
