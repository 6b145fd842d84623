import { useState } from 'react';
import { api, formatOpen, seg, shortHex } from '../api.ts';
import { Link } from '../router.tsx';
import {
  ActionButton,
  Async,
  asList,
  ErrorBox,
  Notice,
  PageHeader,
  pick,
  useLoad,
  when,
  withKeys,
} from '../ui.tsx';
import { useWallet } from '../wallet.tsx';

export function Rewards() {
  const w = useWallet();
  const address = w.address;
  const rewards = useLoad(
    (s) => (address ? api.get(`/api/rewards/${seg(address)}`, s) : Promise.resolve(undefined)),
    [address],
  );
  const epochsRaw = useLoad((s) => api.get('/api/epochs', s), []);
  const epochs = {
    ...epochsRaw,
    data: epochsRaw.data && asList<Record<string, unknown>>(epochsRaw.data, 'epochs'),
  };
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string }>();
  const [error, setError] = useState<unknown>();
  if (!address)
    return (
      <section>
        <PageHeader title="Rewards" />
        <Notice kind="warn">Choose an account in the top bar to see its rewards.</Notice>
      </section>
    );
  const perEpoch = asList<Record<string, unknown>>(pick(rewards.data, 'epochs'));
  const answers = asList<Record<string, unknown>>(pick(rewards.data, 'answers'));
  const total = perEpoch.reduce((a, e) => a + BigInt(String(pick(e, 'amount') ?? 0)), 0n);
  const claimableNow = (e: Record<string, unknown>) => {
    const c = pick(e, 'claimable');
    return pick(e, 'claimed') !== true && (c === true || (typeof c === 'string' && c !== '0'));
  };
  const claimable = perEpoch.reduce(
    (a, e) => a + (claimableNow(e) ? BigInt(String(pick(e, 'amount') ?? 0)) : 0n),
    0n,
  );
  const penalty = pick<Record<string, unknown>>(rewards.data, 'penalty');
  return (
    <section>
      <PageHeader
        title="Rewards"
        lead={
          <>
            What your contributions earned for <code>{shortHex(address, 4)}</code>: answers they shaped, per
            settlement epoch, claimable in OPEN.
          </>
        }
      />
      <div aria-live="polite">
        {message && <Notice kind={message.kind}>{message.text}</Notice>}
        {error !== undefined && <ErrorBox error={error} title="Claim failed" />}
      </div>
      <Async state={rewards} label="Loading rewards…">
        {() => (
          <>
            <div className="cols">
              <div className="card">
                <div className="muted small">Earned (all epochs)</div>
                <div className="stat" data-testid="earned">
                  {formatOpen(total.toString())}
                </div>
              </div>
              <div className="card">
                <div className="muted small">Claimable now</div>
                <div className="stat" data-testid="claimable">
                  {formatOpen(claimable.toString())}
                </div>
              </div>
              <div className="card">
                {penalty ? (
                  <>
                    <div className="muted small">Penalty score</div>
                    <div
                      className="stat"
                      title="Duplicate, mislabelled or harmful data raises it; above the governed threshold rewards shrink"
                    >
                      {String(pick(penalty, 'score') ?? 0)}
                    </div>
                    <div className="small muted">{asList(pick(penalty, 'flags')).length} flag(s)</div>
                  </>
                ) : (
                  <>
                    <div className="muted small">Attributed answers</div>
                    <div className="stat">{answers.length}</div>
                  </>
                )}
              </div>
            </div>
            <div className="card">
              <h2 style={{ marginTop: 0 }}>Earnings per epoch</h2>
              {perEpoch.length === 0 ? (
                <p className="muted">
                  No earnings yet. Rewards appear after an epoch that paid for answers using your data is
                  settled.
                </p>
              ) : (
                <div className="table-wrap">
                  <table data-testid="epochs-table">
                    <thead>
                      <tr>
                        <th scope="col">Epoch</th>
                        <th scope="col" className="num">
                          Amount
                        </th>
                        <th scope="col">Status</th>
                        <th scope="col">
                          <span className="sr-only">Action</span>
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {perEpoch.map((e) => {
                        const epoch = Number(pick(e, 'epoch', 'id'));
                        const claimed = pick(e, 'claimed') === true;
                        const can = claimableNow(e);
                        const at = Number(pick(e, 'claimableAt') ?? 0);
                        const waiting = !claimed && !can && at * 1000 > Date.now() - 60_000;
                        return (
                          <tr key={epoch}>
                            <td>#{epoch}</td>
                            <td className="num">{formatOpen(pick(e, 'amount'))}</td>
                            <td>
                              {claimed ? (
                                <span className="pill pill-ok">claimed</span>
                              ) : can ? (
                                <span className="pill pill-warn">claimable</span>
                              ) : (
                                <span className="pill pill-info" title="The challenge window is still open">
                                  {at ? `from ${when(at)}` : 'not yet claimable'}
                                </span>
                              )}
                            </td>
                            <td>
                              {can && (
                                <ActionButton
                                  className="btn btn-small btn-primary"
                                  disabled={!w.signedIn}
                                  busyLabel="Claiming…"
                                  action={() => api.post('/api/rewards/claim', { epoch })}
                                  onDone={(r) => {
                                    setError(undefined);
                                    setMessage({
                                      kind: 'ok',
                                      text: `Claimed epoch #${epoch}${pick(r, 'txHash') ? ` (tx ${shortHex(pick(r, 'txHash'))})` : ''}.`,
                                    });
                                    rewards.reload();
                                  }}
                                  onError={setError}
                                >
                                  Claim
                                </ActionButton>
                              )}
                              {waiting && w.accounts.length > 0 && (
                                <ActionButton
                                  className="btn btn-small"
                                  busyLabel="Advancing…"
                                  title="Local chain only: move block time past the challenge window"
                                  action={() =>
                                    api.post('/api/dev/advance-time', {
                                      seconds: Math.max(1, Math.ceil(at - Date.now() / 1000) + 5),
                                    })
                                  }
                                  onDone={() => rewards.reload()}
                                  onError={setError}
                                >
                                  Skip challenge window (local)
                                </ActionButton>
                              )}
                            </td>
                          </tr>
                        );
                      })}
                    </tbody>
                  </table>
                </div>
              )}
              {!w.signedIn && <p className="small muted">Sign in to claim.</p>}
            </div>
            {pick(rewards.data, 'answers') !== undefined && (
              <div className="card">
                <h2 style={{ marginTop: 0 }}>Attributed answers</h2>
                {answers.length === 0 ? (
                  <p className="muted">No answer has been attributed to your data yet.</p>
                ) : (
                  <div className="table-wrap">
                    <table>
                      <thead>
                        <tr>
                          <th scope="col">When</th>
                          <th scope="col">Model</th>
                          <th scope="col" className="num">
                            Weight
                          </th>
                          <th scope="col" className="num">
                            Earned
                          </th>
                          <th scope="col">Receipt</th>
                        </tr>
                      </thead>
                      <tbody>
                        {withKeys(answers, (a) => String(pick(a, 'receiptId', 'id'))).map(
                          ({ item: a, key }) => {
                            const rid = pick(a, 'receiptId', 'id');
                            return (
                              <tr key={key}>
                                <td className="small">{when(pick(a, 'createdAt', 'timestamp'))}</td>
                                <td>{String(pick(a, 'model', 'modelId') ?? '—')}</td>
                                <td className="num">
                                  {pick(a, 'weight') !== undefined
                                    ? `${(Number(pick(a, 'weight')) * 100).toFixed(1)}%`
                                    : '—'}
                                </td>
                                <td className="num">{formatOpen(pick(a, 'amount', 'reward'), 6)}</td>
                                <td>
                                  {rid ? (
                                    <Link to={`/explorer?receipt=${encodeURIComponent(String(rid))}`}>
                                      {shortHex(rid, 4)}
                                    </Link>
                                  ) : (
                                    '—'
                                  )}
                                </td>
                              </tr>
                            );
                          },
                        )}
                      </tbody>
                    </table>
                  </div>
                )}
              </div>
            )}
          </>
        )}
      </Async>
      <div className="card">
        <div className="spread">
          <h2 style={{ marginTop: 0 }}>Settlement epochs</h2>
          <ActionButton
            className="btn btn-small"
            disabled={!w.signedIn}
            busyLabel="Settling…"
            action={() => api.post('/api/epochs/settle', {})}
            onDone={() => {
              setMessage({ kind: 'ok', text: 'Epoch settled: fees split and the reward root published.' });
              epochs.reload();
              rewards.reload();
            }}
            onError={setError}
          >
            Settle current epoch
          </ActionButton>
        </div>
        {pick(epochsRaw.data, 'current') !== undefined && (
          <p className="small muted">
            Epoch #{String(pick(epochsRaw.data, 'current'))} is accumulating
            {pick(epochsRaw.data, 'pending') !== undefined
              ? ` ${String(pick(epochsRaw.data, 'pending'))} paid requests`
              : ''}
            .
          </p>
        )}
        <Async state={epochs} label="Loading epochs…" empty="No epoch settled yet.">
          {(list) => (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Epoch</th>
                    <th scope="col" className="num">
                      Rewards
                    </th>
                    <th scope="col" className="num">
                      Funded
                    </th>
                    <th scope="col">Reward root</th>
                    <th scope="col">Settled</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((e) => (
                    <tr key={String(pick(e, 'epoch', 'id'))}>
                      <td>#{String(pick(e, 'epoch', 'id'))}</td>
                      <td className="num">{formatOpen(pick(e, 'total', 'fees', 'totalFees'))}</td>
                      <td className="num">{formatOpen(pick(e, 'funded', 'contributors'))}</td>
                      <td>
                        <code className="hash">{shortHex(pick(e, 'root', 'rewardRoot'))}</code>
                      </td>
                      <td className="small">{when(pick(e, 'settledAt', 'timestamp'))}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Async>
      </div>
    </section>
  );
}
