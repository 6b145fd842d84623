import { type FormEvent, useState } from 'react';
import { api, formatOpen, parseOpen, seg, shortHex } from '../api.ts';
import {
  ActionButton,
  Async,
  asList,
  ErrorBox,
  Field,
  Notice,
  PageHeader,
  pick,
  SignInHint,
  useLoad,
  when,
} from '../ui.tsx';
import { useWallet } from '../wallet.tsx';
import { StatusPill } from './DatanetPage.tsx';

// The governed parameters (contracts/src/ProtocolParams.sol `Params`); a change applies from the
// next settlement epoch. The three fee shares must sum to 10,000 basis points.
const PARAMETERS: { name: string; unit: string }[] = [
  { name: 'ownerBps', unit: 'basis points of the net fee to the model owner' },
  { name: 'stakersBps', unit: 'basis points of the net fee to stakers' },
  { name: 'contributorsBps', unit: 'basis points of the net fee to contributors' },
  { name: 'platformFee', unit: 'wei of OPEN per request' },
  { name: 'epochLength', unit: 'seconds' },
  { name: 'challengeWindow', unit: 'seconds' },
  { name: 'unbondingPeriod', unit: 'seconds' },
  { name: 'withdrawNotice', unit: 'seconds' },
  { name: 'slashBps', unit: 'basis points' },
  { name: 'penaltyThreshold', unit: 'penalty score' },
  { name: 'penaltyRewardBps', unit: 'basis points' },
  { name: 'minOperatorStake', unit: 'wei of OPEN' },
  { name: 'minSettlerStake', unit: 'wei of OPEN' },
  { name: 'publishFeeBase', unit: 'wei of OPEN' },
  { name: 'publishFeePerRow', unit: 'wei of OPEN' },
  { name: 'challengeBond', unit: 'wei of OPEN bonded by a reward-root challenge' },
];

type Proposal = Record<string, unknown>;

function votes(p: Proposal, k: string): string {
  const v = pick(p, `${k}Votes`, k) ?? pick(pick(p, 'votes'), k);
  return v === undefined ? '—' : formatOpen(v, 2).replace(' OPEN', '');
}

export function Governance() {
  const w = useWallet();
  const proposals = useLoad(
    (s) => api.get('/api/gov/proposals', s).then((r) => asList<Proposal>(r, 'proposals')),
    [],
  );
  const [form, setForm] = useState({ parameter: PARAMETERS[0].name, value: '', description: '' });
  const [formError, setFormError] = useState<unknown>();
  const [message, setMessage] = useState<string>();
  const [actionError, setActionError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  async function propose(e: FormEvent) {
    e.preventDefault();
    setFormError(undefined);
    if (!form.value.trim()) {
      setFormError(new Error('value: give the new value of the parameter.'));
      return;
    }
    setBusy(true);
    try {
      const r = await api.post('/api/gov/proposals', {
        parameter: form.parameter,
        value: form.value.trim(),
        description: form.description.trim() || `Set ${form.parameter} to ${form.value.trim()}`,
      });
      setMessage(
        `Proposal ${shortHex(pick(r, 'proposalId', 'id'), 6)} submitted. Voting opens after the voting delay.`,
      );
      setForm((f) => ({ ...f, value: '', description: '' }));
      proposals.reload();
    } catch (err) {
      setFormError(err);
    } finally {
      setBusy(false);
    }
  }

  const act =
    (id: string, what: string, body: unknown = {}) =>
    () =>
      api.post(`/api/gov/proposals/${seg(id)}/${what}`, body);
  const done = (text: string) => () => {
    setActionError(undefined);
    setMessage(text);
    proposals.reload();
  };

  return (
    <section>
      <PageHeader
        title="Governance & staking"
        lead="OPEN holders steer the protocol's parameters through the Governor and its timelock."
      />
      <div aria-live="polite">
        {message && <Notice kind="ok">{message}</Notice>}
        {actionError !== undefined && <ErrorBox error={actionError} title="The action failed" />}
      </div>
      <div className="grid-2">
        <div className="card">
          <h2 style={{ marginTop: 0 }}>Proposals</h2>
          <Async state={proposals} label="Loading proposals…" empty="No proposal yet.">
            {(list) => (
              <div className="stack">
                {list.map((p) => {
                  const id = String(pick(p, 'id', 'proposalId'));
                  const state = String(pick(p, 'state', 'status') ?? 'unknown');
                  return (
                    <article key={id} className="choice-card" data-testid="proposal">
                      <div className="spread">
                        <strong>
                          {String(pick(p, 'description', 'title') ?? `Proposal ${shortHex(id)}`)}
                        </strong>
                        <StatusPill status={state} />
                      </div>
                      <div className="small muted">
                        #{shortHex(id, 6)}
                        {pick(p, 'parameter') !== undefined &&
                          ` · ${String(pick(p, 'parameter'))} → ${String(pick(p, 'value'))}`}
                        {pick(p, 'proposer') !== undefined && ` · by ${shortHex(pick(p, 'proposer'), 4)}`}
                        {pick(p, 'deadline', 'voteEnd') !== undefined &&
                          ` · voting ends ${when(pick(p, 'deadline', 'voteEnd'))}`}
                      </div>
                      <div className="small" style={{ margin: '6px 0' }}>
                        For {votes(p, 'for')} · Against {votes(p, 'against')} · Abstain {votes(p, 'abstain')}
                      </div>
                      <div className="row">
                        {['for', 'against', 'abstain'].map((s) => (
                          <ActionButton
                            key={s}
                            className="btn btn-small"
                            disabled={!w.signedIn || !/active/i.test(state)}
                            action={act(id, 'vote', { support: s })}
                            onDone={done(`Voted ${s}.`)}
                            onError={setActionError}
                          >
                            Vote {s}
                          </ActionButton>
                        ))}
                        <ActionButton
                          className="btn btn-small"
                          disabled={!w.signedIn || !/succeeded/i.test(state)}
                          action={act(id, 'queue')}
                          onDone={done('Queued in the timelock.')}
                          onError={setActionError}
                        >
                          Queue
                        </ActionButton>
                        <ActionButton
                          className="btn btn-small btn-primary"
                          disabled={!w.signedIn || !/queued/i.test(state)}
                          action={act(id, 'execute')}
                          onDone={done('Executed.')}
                          onError={setActionError}
                        >
                          Execute
                        </ActionButton>
                      </div>
                    </article>
                  );
                })}
              </div>
            )}
          </Async>
        </div>
        <div>
          <form className="card" onSubmit={propose}>
            <h2 style={{ marginTop: 0 }}>Propose a parameter change</h2>
            <SignInHint what="propose" />
            <Field label="Parameter">
              {(id) => (
                <select
                  id={id}
                  value={form.parameter}
                  onChange={(e) => setForm((f) => ({ ...f, parameter: e.target.value }))}
                >
                  {PARAMETERS.map((p) => (
                    <option key={p.name}>{p.name}</option>
                  ))}
                </select>
              )}
            </Field>
            <Field
              label="New value"
              hint={`In ${PARAMETERS.find((p) => p.name === form.parameter)?.unit ?? 'the parameter’s unit'}. Takes effect from the next epoch.`}
            >
              {(id, d) => (
                <input
                  id={id}
                  aria-describedby={d}
                  value={form.value}
                  onChange={(e) => setForm((f) => ({ ...f, value: e.target.value }))}
                />
              )}
            </Field>
            <Field label="Rationale">
              {(id) => (
                <textarea
                  id={id}
                  style={{ minHeight: 80 }}
                  value={form.description}
                  onChange={(e) => setForm((f) => ({ ...f, description: e.target.value }))}
                />
              )}
            </Field>
            {formError !== undefined && <ErrorBox error={formError} title="Proposal not submitted" />}
            <button type="submit" className="btn btn-primary" disabled={busy || !w.signedIn}>
              {busy ? 'Submitting…' : 'Submit proposal'}
            </button>
          </form>
          <Staking />
        </div>
      </div>
    </section>
  );
}

function Staking() {
  const w = useWallet();
  const address = w.address;
  const account = useLoad(
    (s) => (address ? api.get(`/api/accounts/${seg(address)}`, s) : Promise.resolve(undefined)),
    [address],
  );
  const staking = useLoad(
    (s) => (address ? api.get(`/api/staking/${seg(address)}`, s) : Promise.resolve(undefined)),
    [address],
  );
  const [amount, setAmount] = useState('');
  const [error, setError] = useState<unknown>();
  const [message, setMessage] = useState<string>();
  const reload = () => {
    account.reload();
    staking.reload();
  };
  const run = (what: 'stake' | 'unstake' | 'withdraw' | 'delegate') => async () => {
    if (what === 'delegate') return api.post('/api/gov/delegate', { amount: parseOpen(amount, 'Amount') });
    const body = what === 'withdraw' ? {} : { amount: parseOpen(amount, 'Amount') };
    return api.post(`/api/staking/${what}`, body);
  };
  if (!address) return null;
  return (
    <div className="card">
      <h2 style={{ marginTop: 0 }}>Staking</h2>
      {account.error !== undefined ? (
        <ErrorBox error={account.error} onRetry={account.reload} />
      ) : (
        <dl className="kv">
          <dt>Balance</dt>
          <dd data-testid="balance">{account.data ? formatOpen(pick(account.data, 'open')) : '…'}</dd>
          <dt>Staked</dt>
          <dd>{formatOpen(pick(staking.data, 'staked') ?? pick(account.data, 'staked'))}</dd>
          <dt>Unbonding</dt>
          <dd>{formatOpen(pick(staking.data, 'pending', 'unbonding', 'withdrawable') ?? '0')}</dd>
          <dt>Votes</dt>
          <dd data-testid="votes">
            {formatOpen(pick(account.data, 'votes') ?? pick(staking.data, 'votes') ?? '0')}
          </dd>
        </dl>
      )}
      {staking.error !== undefined && <ErrorBox error={staking.error} onRetry={staking.reload} />}
      <div className="field" style={{ marginTop: 12 }}>
        <label htmlFor="stake-amount">Amount (OPEN)</label>
        <input
          id="stake-amount"
          inputMode="decimal"
          value={amount}
          onChange={(e) => setAmount(e.target.value)}
          placeholder="100"
        />
      </div>
      <div className="row">
        {(['stake', 'unstake', 'withdraw', 'delegate'] as const).map((what) => (
          <ActionButton
            key={what}
            className={what === 'stake' ? 'btn btn-primary' : 'btn'}
            disabled={!w.signedIn || (what !== 'withdraw' && !amount.trim())}
            action={run(what)}
            onDone={() => {
              setError(undefined);
              setMessage(
                what === 'delegate'
                  ? 'OPEN locked as votes and delegated to yourself.'
                  : `${what[0].toUpperCase()}${what.slice(1)} done.`,
              );
              reload();
            }}
            onError={setError}
          >
            {what === 'delegate' ? 'Lock as votes' : what[0].toUpperCase() + what.slice(1)}
          </ActionButton>
        ))}
      </div>
      <div aria-live="polite" style={{ marginTop: 10 }}>
        {message && <Notice kind="ok">{message}</Notice>}
        {error !== undefined && <ErrorBox error={error} title="Staking failed" />}
      </div>
    </div>
  );
}
