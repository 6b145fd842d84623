import { api } from '../api.ts';
import { Link } from '../router.tsx';
import { Async, PageHeader, useLoad } from '../ui.tsx';

const SECTIONS = [
  {
    to: '/datanets',
    title: 'Datanets',
    text: 'Community datasets: contribute files, review rows, publish versions anchored on-chain.',
  },
  {
    to: '/factory',
    title: 'ModelFactory',
    text: 'Fine-tune a LoRA adapter on datanet versions, watch it train, evaluate and publish it.',
  },
  {
    to: '/playground',
    title: 'Playground',
    text: 'Chat with any served model and see which contributions shaped each answer.',
  },
  {
    to: '/rewards',
    title: 'Rewards',
    text: 'Your attributed answers, earnings per epoch, and claims in OPEN.',
  },
  { to: '/governance', title: 'Governance', text: 'Propose and vote on protocol parameters; stake OPEN.' },
  { to: '/explorer', title: 'Explorer', text: 'Model lineage, receipt verification and audit reports.' },
];

export function Home() {
  const status = useLoad((s) => api.get<Record<string, unknown>>('/api/chain/status', s), []);
  return (
    <section>
      <PageHeader
        title="OpenLedger Studio"
        lead="Payable AI, end to end: every answer is traced to the data that shaped it, and its fee flows back to the contributors."
      />
      <div className="grid">
        {SECTIONS.map((s) => (
          <Link key={s.to} to={s.to} className="card tile">
            <h3>{s.title}</h3>
            <p className="muted">{s.text}</p>
          </Link>
        ))}
      </div>
      <div className="card">
        <h2>Chain</h2>
        <Async state={status} label="Reading chain status…">
          {(st) => (
            <dl className="kv">
              <dt>Chain id</dt>
              <dd>{String(st.chainId ?? '—')}</dd>
              <dt>Block</dt>
              <dd>{String(st.blockNumber ?? st.block ?? '—')}</dd>
              <dt>OPEN supply</dt>
              <dd>
                {st.openTotalSupply
                  ? `${(BigInt(String(st.openTotalSupply)) / 10n ** 18n).toLocaleString('en-US')} OPEN`
                  : '—'}
              </dd>
              <dt>Contracts</dt>
              <dd>
                {Object.entries((st.contracts as Record<string, string> | undefined) ?? {}).map(([k, v]) => (
                  <div key={k} className="small">
                    {k}: <code className="hash">{String(v)}</code>
                  </div>
                ))}
              </dd>
            </dl>
          )}
        </Async>
      </div>
    </section>
  );
}
