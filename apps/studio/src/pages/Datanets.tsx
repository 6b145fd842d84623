import { useEffect, useState } from 'react';
import { api, shortHex } from '../api.ts';
import { Link } from '../router.tsx';
import { Async, asList, PageHeader, pick, useLoad } from '../ui.tsx';

export type Datanet = Record<string, unknown>;

export function datanetVersion(d: Datanet): number | undefined {
  const v = pick(d, 'version', 'latestVersion', 'currentVersion', 'versionCount');
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object') return Number(pick(v, 'version', 'number')) || undefined;
  return v === undefined ? undefined : Number(v);
}

export function Datanets() {
  const [q, setQ] = useState('');
  const [query, setQuery] = useState('');
  useEffect(() => {
    const t = setTimeout(() => setQuery(q.trim()), 250);
    return () => clearTimeout(t);
  }, [q]);
  const list = useLoad(
    (s) =>
      api
        .get(`/api/datanets${query ? `?q=${encodeURIComponent(query)}` : ''}`, s)
        .then((r) => asList<Datanet>(r, 'datanets')),
    [query],
  );
  return (
    <section>
      <PageHeader
        title="Datanets"
        lead="Community datasets. Each approval publishes a version whose Merkle root is anchored on-chain."
        actions={
          <Link to="/datanets/new" className="btn btn-primary">
            New datanet
          </Link>
        }
      />
      <search className="field">
        <label htmlFor="dn-search" className="sr-only">
          Search datanets
        </label>
        <input
          id="dn-search"
          type="search"
          placeholder="Search by name, summary or tag…"
          value={q}
          onChange={(e) => setQ(e.target.value)}
        />
      </search>
      <Async
        state={list}
        label="Loading datanets…"
        empty={query ? `No datanet matches “${query}”.` : 'No datanets yet. Create the first one.'}
      >
        {(items) => (
          <div className="grid" aria-live="polite">
            {items.map((d) => {
              const id = String(pick(d, 'id', 'datanetId'));
              const tags = asList<string>(pick(d, 'tags'));
              const v = datanetVersion(d);
              return (
                <Link
                  key={id}
                  to={`/datanets/${encodeURIComponent(id)}`}
                  className="card tile"
                  data-testid="datanet-card"
                >
                  <h3>{String(pick(d, 'name') ?? id)}</h3>
                  <p className="muted">{String(pick(d, 'summary') ?? '')}</p>
                  <div>
                    {tags.map((t) => (
                      <span key={t} className="tag">
                        {t}
                      </span>
                    ))}
                  </div>
                  <div className="small muted">
                    {v ? `v${v}` : 'unpublished'} ·{' '}
                    {String(pick(d, 'approvedCount', 'rowCount', 'rows') ?? 0)} rows ·{' '}
                    {String(pick(d, 'visibility') ?? 'public')} · owner {shortHex(pick(d, 'owner'), 4)}
                  </div>
                </Link>
              );
            })}
          </div>
        )}
      </Async>
    </section>
  );
}
