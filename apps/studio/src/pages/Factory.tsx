import { useState } from 'react';
import { api, seg } from '../api.ts';
import { Link, navigate } from '../router.tsx';
import { Async, asList, clip, ErrorBox, Field, PageHeader, pick, SignInHint, useLoad, when } from '../ui.tsx';
import { useWallet } from '../wallet.tsx';
import { rowId, rowText, StatusPill } from './DatanetPage.tsx';
import { type Datanet, datanetVersion } from './Datanets.tsx';

type Step = 0 | 1 | 2 | 3;
const STEPS = ['Base model', 'Datanets', 'Template', 'Hyperparameters'];

const TEMPLATES = [
  { key: 'completion', label: 'Completion', text: 'Continue text in the style of the data (text rows).' },
  {
    key: 'instruction',
    label: 'Instruction',
    text: 'Answer prompts with completions (prompt / completion rows).',
  },
  { key: 'classification', label: 'Classification', text: 'Predict a label for a text (text / label rows).' },
];

// The factory's defaults (packages/factory DEFAULT_HYPERPARAMETERS): tuned for the shipped base
// model on a small datanet. Field names are the API's.
const DEFAULTS = {
  learningRate: '0.002',
  epochs: '2',
  batchSize: '8',
  scheduler: 'cosine',
  loraRank: '8',
  loraAlpha: '16',
  loraDropout: '0',
  loraTargets: 'q, v, o, up, down',
  maxSeqLen: '128',
  warmupSteps: '5',
  weightDecay: '0',
  gradientAccumulation: '1',
  validationSplit: '0.1',
  seed: '1',
};
type HpKey = keyof typeof DEFAULTS;

interface HpField {
  key: HpKey;
  label: string;
  hint?: string;
  min?: number;
  max?: number;
  step?: string;
  options?: string[];
}

const MAIN_FIELDS: HpField[] = [
  { key: 'learningRate', label: 'Learning rate', min: 0, max: 1, step: 'any' },
  { key: 'epochs', label: 'Epochs', min: 1, max: 1000 },
  { key: 'batchSize', label: 'Batch size', min: 1, max: 512 },
  { key: 'scheduler', label: 'Schedule', options: ['cosine', 'linear', 'constant'] },
];

const ADVANCED_FIELDS: HpField[] = [
  { key: 'loraRank', label: 'LoRA rank', min: 1, max: 1024 },
  { key: 'loraAlpha', label: 'LoRA alpha', min: 0, step: 'any' },
  { key: 'loraDropout', label: 'LoRA dropout', min: 0, max: 0.9, step: 'any' },
  { key: 'loraTargets', label: 'LoRA targets', hint: 'Comma separated: q, k, v, o, gate, up, down.' },
  { key: 'maxSeqLen', label: 'Max sequence length', min: 8, max: 8192 },
  { key: 'warmupSteps', label: 'Warm-up steps', min: 0 },
  { key: 'weightDecay', label: 'Weight decay', min: 0, max: 1, step: 'any' },
  { key: 'gradientAccumulation', label: 'Gradient accumulation', min: 1, max: 256 },
  { key: 'validationSplit', label: 'Validation split', min: 0, max: 0.5, step: 'any' },
  { key: 'seed', label: 'Seed', min: 0 },
];

function HyperField({
  f,
  value,
  onChange,
}: {
  f: HpField;
  value: string;
  onChange: (e: { target: { value: string } }) => void;
}) {
  return (
    <Field label={f.label} hint={f.hint}>
      {(id, d) =>
        f.options ? (
          <select id={id} value={value} onChange={onChange}>
            {f.options.map((o) => (
              <option key={o}>{o}</option>
            ))}
          </select>
        ) : f.key === 'loraTargets' ? (
          <input id={id} aria-describedby={d} value={value} onChange={onChange} />
        ) : (
          <input
            id={id}
            aria-describedby={d}
            type="number"
            min={f.min}
            max={f.max}
            step={f.step}
            value={value}
            onChange={onChange}
          />
        )
      }
    </Field>
  );
}

/** Only the fields that differ from the defaults are sent; the node fills in the rest. */
export function hyperparameters(hp: typeof DEFAULTS): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(hp) as HpKey[]) {
    if (hp[k].trim() === DEFAULTS[k]) continue;
    if (k === 'scheduler') out[k] = hp[k];
    else if (k === 'loraTargets')
      out[k] = hp[k]
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);
    else out[k] = hp[k].trim() === '' ? undefined : Number(hp[k]);
  }
  return out;
}

export function Factory() {
  const w = useWallet();
  const [step, setStep] = useState<Step>(0);
  const bases = useLoad(
    (s) =>
      api
        .get('/api/factory/base-models', s)
        .then((r) => asList<Record<string, unknown>>(r, 'models', 'baseModels')),
    [],
  );
  const datanets = useLoad(
    (s) => api.get('/api/datanets', s).then((r) => asList<Datanet>(r, 'datanets')),
    [],
  );
  const jobs = useLoad(
    (s) => api.get('/api/factory/jobs', s).then((r) => asList<Record<string, unknown>>(r, 'jobs')),
    [],
  );
  const [base, setBase] = useState<string>();
  const [chosen, setChosen] = useState<Record<string, number>>({});
  const [template, setTemplate] = useState('completion');
  const [hp, setHp] = useState(DEFAULTS);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const baseId = base ?? String(pick(bases.data?.[0], 'id', 'name') ?? '');
  const published = (datanets.data ?? []).filter((d) => (datanetVersion(d) ?? 0) > 0);

  async function train() {
    setError(undefined);
    setBusy(true);
    try {
      const res = await api.post('/api/factory/jobs', {
        baseModel: baseId,
        datanets: Object.entries(chosen).map(([id, version]) => ({
          id: /^\d+$/.test(id) ? Number(id) : id,
          version,
        })),
        template,
        hyperparameters: hyperparameters(hp),
      });
      const id = pick(res, 'jobId', 'id') ?? pick(pick(res, 'job'), 'id');
      navigate(`/factory/jobs/${seg(String(id))}`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  const canNext = step === 0 ? !!baseId : step === 1 ? Object.keys(chosen).length > 0 : true;
  const setH = (k: HpKey) => (e: { target: { value: string } }) =>
    setHp((h) => ({ ...h, [k]: e.target.value }));

  return (
    <section>
      <PageHeader
        title="ModelFactory"
        lead="Fine-tune a LoRA adapter on published datanet versions: four choices, then train."
      />
      <SignInHint what="train a model" />
      <div className="card">
        <ol className="steps" aria-label="Wizard steps">
          {STEPS.map((s, i) => (
            <li
              key={s}
              className={i === step ? 'current' : i < step ? 'done' : undefined}
              aria-current={i === step ? 'step' : undefined}
            >
              {i + 1}. {s}
            </li>
          ))}
        </ol>
        {step === 0 && (
          <fieldset>
            <legend>Base model</legend>
            <Async state={bases} label="Loading base models…" empty="This node has no base model installed.">
              {(list) => (
                <>
                  {list.map((m) => {
                    const id = String(pick(m, 'id', 'name'));
                    return (
                      <label key={id} className="choice choice-card">
                        <input
                          type="radio"
                          name="base"
                          value={id}
                          checked={baseId === id}
                          onChange={() => setBase(id)}
                        />
                        <span>
                          <strong>{String(pick(m, 'name', 'id'))}</strong>
                          <span className="muted small" style={{ display: 'block' }}>
                            {[
                              pick(m, 'architecture', 'arch'),
                              pick(m, 'parameters', 'params') &&
                                `${String(pick(m, 'parameters', 'params'))} parameters`,
                              pick(m, 'description'),
                            ]
                              .filter(Boolean)
                              .join(' · ')}
                          </span>
                        </span>
                      </label>
                    );
                  })}
                </>
              )}
            </Async>
          </fieldset>
        )}
        {step === 1 && (
          <fieldset>
            <legend>Datanets (published versions)</legend>
            <Async
              state={{ ...datanets, data: datanets.data && published }}
              label="Loading datanets…"
              empty={
                <>
                  No datanet has a published version yet. <Link to="/datanets">Publish one first.</Link>
                </>
              }
            >
              {(list) => (
                <>
                  {list.map((d) => {
                    const id = String(pick(d, 'id'));
                    const latest = datanetVersion(d) ?? 1;
                    const on = id in chosen;
                    return (
                      <div key={id} className="choice-card">
                        <label className="choice">
                          <input
                            type="checkbox"
                            checked={on}
                            onChange={() =>
                              setChosen((c) => {
                                const n = { ...c };
                                if (on) delete n[id];
                                else n[id] = latest;
                                return n;
                              })
                            }
                          />
                          <span>
                            <strong>{String(pick(d, 'name'))}</strong>{' '}
                            <span className="muted small">
                              v{latest} · {String(pick(d, 'approvedCount', 'rowCount') ?? '?')} rows ·{' '}
                              {String(pick(d, 'schema') ?? 'text')}
                            </span>
                          </span>
                        </label>
                        {on && (
                          <div style={{ marginLeft: 26 }}>
                            <label className="inline small">
                              Version{' '}
                              <select
                                value={chosen[id]}
                                onChange={(e) => setChosen((c) => ({ ...c, [id]: Number(e.target.value) }))}
                              >
                                {Array.from({ length: latest }, (_, i) => latest - i).map((v) => (
                                  <option key={v} value={v}>
                                    v{v}
                                  </option>
                                ))}
                              </select>
                            </label>
                            <Preview id={id} />
                          </div>
                        )}
                      </div>
                    );
                  })}
                </>
              )}
            </Async>
          </fieldset>
        )}
        {step === 2 && (
          <fieldset>
            <legend>Template</legend>
            {TEMPLATES.map((t) => (
              <label key={t.key} className="choice choice-card">
                <input
                  type="radio"
                  name="template"
                  value={t.key}
                  checked={template === t.key}
                  onChange={() => setTemplate(t.key)}
                />
                <span>
                  <strong>{t.label}</strong>
                  <span className="muted small" style={{ display: 'block' }}>
                    {t.text}
                  </span>
                </span>
              </label>
            ))}
          </fieldset>
        )}
        {step === 3 && (
          <div>
            <div className="cols">
              {MAIN_FIELDS.map((f) => (
                <HyperField key={f.key} f={f} value={hp[f.key]} onChange={setH(f.key)} />
              ))}
            </div>
            <details>
              <summary>Advanced</summary>
              <div className="cols" style={{ marginTop: 8 }}>
                {ADVANCED_FIELDS.map((f) => (
                  <HyperField key={f.key} f={f} value={hp[f.key]} onChange={setH(f.key)} />
                ))}
              </div>
            </details>
          </div>
        )}
        {error !== undefined && <ErrorBox error={error} title="Training could not start" />}
        <div className="wizard-nav">
          <button
            type="button"
            className="btn btn-ghost"
            disabled={step === 0}
            onClick={() => setStep((s) => (s - 1) as Step)}
          >
            Back
          </button>
          {step < 3 ? (
            <button
              type="button"
              className="btn btn-primary"
              disabled={!canNext}
              onClick={() => setStep((s) => (s + 1) as Step)}
            >
              Next
            </button>
          ) : (
            <button
              type="button"
              className="btn btn-primary"
              disabled={busy || !w.signedIn || !canNext}
              onClick={() => void train()}
            >
              {busy ? 'Starting…' : 'Train'}
            </button>
          )}
        </div>
        {step === 1 && Object.keys(chosen).length === 0 && published.length > 0 && (
          <p className="small muted">Select at least one datanet.</p>
        )}
      </div>
      <div className="card">
        <h2 style={{ marginTop: 0 }}>Training jobs</h2>
        <Async state={jobs} label="Loading jobs…" empty="No training job yet.">
          {(list) => (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Job</th>
                    <th scope="col">Base</th>
                    <th scope="col">Status</th>
                    <th scope="col">Created</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((j) => {
                    const id = String(pick(j, 'id', 'jobId'));
                    return (
                      <tr key={id}>
                        <td>
                          <Link to={`/factory/jobs/${seg(id)}`}>{id}</Link>
                        </td>
                        <td>{String(pick(pick(j, 'spec'), 'baseModel') ?? pick(j, 'baseModel') ?? '—')}</td>
                        <td>
                          <StatusPill status={pick(j, 'status', 'state')} />
                        </td>
                        <td className="small">{when(pick(j, 'createdAt'))}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </Async>
      </div>
    </section>
  );
}

function Preview({ id }: { id: string }) {
  const rows = useLoad(
    (s) =>
      api
        .get(`/api/datanets/${seg(id)}/rows?status=approved`, s)
        .then((r) => asList<Record<string, unknown>>(r, 'rows')),
    [id],
  );
  return (
    <Async state={rows} label="Loading preview…" empty="No approved rows.">
      {(list) => (
        <ul className="small muted" style={{ margin: '6px 0', paddingLeft: 18 }} aria-label="Preview of rows">
          {list.slice(0, 3).map((r) => (
            <li key={rowId(r)}>{clip(rowText(r), 140)}</li>
          ))}
          {list.length > 3 && <li>… and {list.length - 3} more</li>}
        </ul>
      )}
    </Async>
  );
}
