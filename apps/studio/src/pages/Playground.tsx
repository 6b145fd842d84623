import { useState } from 'react';
import { api, formatOpen, seg } from '../api.ts';
import { AttributionPanel, Chat, type Receipt } from '../chat.tsx';
import { Async, asList, PageHeader, pick, useLoad } from '../ui.tsx';

export function Playground({ initialModel }: { initialModel?: string }) {
  const models = useLoad(
    (s) => api.get('/v1/models', s).then((r) => asList<Record<string, unknown>>(r, 'data', 'models')),
    [],
  );
  const [model, setModel] = useState<string | undefined>(initialModel);
  const [receiptId, setReceiptId] = useState<string>();
  const [answer, setAnswer] = useState<string>();
  const [answered, setAnswered] = useState(false);
  const receipt = useLoad<Receipt | undefined>(
    (s) =>
      receiptId
        ? api
            .get<Receipt>(`/api/attribution/receipts/${seg(receiptId)}`, s)
            .then((r) => (pick<Receipt>(r, 'receipt') ?? r) as Receipt)
        : Promise.resolve(undefined),
    [receiptId],
  );
  const list = models.data ?? [];
  // ?model= may be a served id ("model-3") or the on-chain model id ("3") from ModelFactory/Explorer
  const match = model
    ? list.find(
        (m) => String(pick(m, 'id')) === model || String(pick(pick(m, 'openledger'), 'modelId')) === model,
      )
    : undefined;
  const current = match
    ? String(pick(match, 'id'))
    : (model ?? String(pick(list[list.length - 1], 'id') ?? ''));
  const info = pick<Record<string, unknown>>(
    list.find((m) => String(pick(m, 'id')) === current),
    'openledger',
  );
  return (
    <section>
      <PageHeader
        title="Playground"
        lead="Chat with any served model. Each answer shows its cost and the contributions that shaped it."
      />
      <Async
        state={models}
        label="Loading models…"
        empty="No model is being served yet. Train and publish one in ModelFactory."
      >
        {(ms) => (
          <div className="grid-2">
            <div className="card">
              <div className="field">
                <label htmlFor="model-select">Model</label>
                <select
                  id="model-select"
                  value={current}
                  onChange={(e) => {
                    setModel(e.target.value);
                    setReceiptId(undefined);
                    setAnswered(false);
                  }}
                >
                  {ms.map((m) => {
                    const id = String(pick(m, 'id'));
                    const owner = pick(m, 'owned_by', 'owner');
                    return (
                      <option key={id} value={id}>
                        {id}
                        {owner ? ` · ${String(owner).slice(0, 10)}` : ''}
                      </option>
                    );
                  })}
                </select>
              </div>
              {info && (
                <p className="small muted" data-testid="model-price">
                  {formatOpen(pick(info, 'pricePerKInput'), 6)} per 1K input tokens ·{' '}
                  {formatOpen(pick(info, 'pricePerKOutput'), 6)} per 1K output tokens
                </p>
              )}
              <Chat
                key={current}
                model={current}
                onReceipt={(rid, text) => {
                  setReceiptId(rid);
                  setAnswer(text);
                  setAnswered(true);
                }}
              />
            </div>
            <aside className="card" aria-label="Attribution">
              <h2 style={{ marginTop: 0 }}>Attribution</h2>
              <AttributionPanel
                receipt={receipt.data}
                error={receipt.error}
                loading={receipt.loading && !!receiptId}
                answer={answer}
                missing={answered && !receiptId}
              />
            </aside>
          </div>
        )}
      </Async>
    </section>
  );
}
