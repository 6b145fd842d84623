import { type FormEvent, useState } from 'react';
import { ApiError, api, errorMessage } from '../api.ts';
import { Markdown } from '../markdown.tsx';
import { navigate } from '../router.tsx';
import { Field, Notice, PageHeader, pick, SignInHint, Tabs } from '../ui.tsx';
import { useWallet } from '../wallet.tsx';

const LICENSES = [
  'CC-BY-4.0',
  'CC-BY-SA-4.0',
  'CC0-1.0',
  'CC-BY-NC-4.0',
  'ODbL-1.0',
  'MIT',
  'Apache-2.0',
  'Proprietary',
];

export function parseTags(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[,\n]/)
        .map((t) => t.trim().toLowerCase())
        .filter(Boolean),
    ),
  ];
}

export function DatanetCreate() {
  const w = useWallet();
  const [form, setForm] = useState({
    name: '',
    summary: '',
    description: '',
    tags: '',
    license: 'CC-BY-4.0',
    visibility: 'public',
    policy: 'open',
    schema: 'text',
  });
  const [mdTab, setMdTab] = useState<'write' | 'preview'>('write');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm((f) => ({ ...f, [k]: e.target.value }));

  async function submit(e: FormEvent) {
    e.preventDefault();
    const errs: Record<string, string> = {};
    if (!form.name.trim()) errs.name = 'Give the datanet a name.';
    else if (form.name.length > 80) errs.name = 'At most 80 characters.';
    if (form.summary.length > 280) errs.summary = 'At most 280 characters.';
    setErrors(errs);
    setError(undefined);
    if (Object.keys(errs).length) return;
    setBusy(true);
    try {
      const res = await api.post('/api/datanets', {
        name: form.name.trim(),
        summary: form.summary.trim(),
        description: form.description,
        tags: parseTags(form.tags),
        license: form.license,
        visibility: form.visibility,
        policy: form.policy,
        schema: form.schema,
      });
      const id = pick(res, 'id', 'datanetId') ?? pick(pick(res, 'datanet'), 'id');
      navigate(`/datanets/${encodeURIComponent(String(id))}`);
    } catch (err) {
      if (err instanceof ApiError && err.field) setErrors({ [err.field]: err.message });
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  const tags = parseTags(form.tags);
  return (
    <section>
      <PageHeader title="New datanet" lead="Describe the data you want the community to contribute." />
      <SignInHint what="create a datanet" />
      <form
        className="card"
        onSubmit={submit}
        noValidate
        aria-describedby={error ? 'create-error' : undefined}
      >
        <Field label="Name" error={errors.name}>
          {(id, d) => (
            <input
              id={id}
              aria-describedby={d}
              value={form.name}
              onChange={set('name')}
              required
              maxLength={80}
            />
          )}
        </Field>
        <Field label="Summary" hint="One line shown in the list." error={errors.summary}>
          {(id, d) => (
            <input
              id={id}
              aria-describedby={d}
              value={form.summary}
              onChange={set('summary')}
              maxLength={280}
            />
          )}
        </Field>
        <div className="field">
          <span className="label" id="desc-label">
            Description (Markdown)
          </span>
          <Tabs
            label="Description editor"
            tabs={[
              { key: 'write', label: 'Write' },
              { key: 'preview', label: 'Preview' },
            ]}
            active={mdTab}
            onChange={setMdTab}
          />
          {mdTab === 'write' ? (
            <textarea
              aria-labelledby="desc-label"
              value={form.description}
              onChange={set('description')}
              placeholder={'## What belongs here\n- plain-text answers\n- one topic per file'}
            />
          ) : (
            <section className="preview" aria-labelledby="desc-label">
              <Markdown source={form.description} />
            </section>
          )}
        </div>
        <Field label="Tags" hint="Comma separated." error={errors.tags}>
          {(id, d) => (
            <input
              id={id}
              aria-describedby={d}
              value={form.tags}
              onChange={set('tags')}
              placeholder="medicine, q&a"
            />
          )}
        </Field>
        {tags.length > 0 && (
          <div className="field">
            {tags.map((t) => (
              <span key={t} className="tag">
                {t}
              </span>
            ))}
          </div>
        )}
        <div className="cols">
          <Field label="Licence" error={errors.license}>
            {(id) => (
              <select id={id} value={form.license} onChange={set('license')}>
                {LICENSES.map((l) => (
                  <option key={l}>{l}</option>
                ))}
              </select>
            )}
          </Field>
          <Field label="Visibility" error={errors.visibility}>
            {(id) => (
              <select id={id} value={form.visibility} onChange={set('visibility')}>
                <option value="public">Public</option>
                <option value="permissioned">Permissioned</option>
              </select>
            )}
          </Field>
          <Field label="Contribution policy" error={errors.policy}>
            {(id) => (
              <select id={id} value={form.policy} onChange={set('policy')}>
                <option value="open">Open: anyone may contribute</option>
                <option value="allowlist">Allowlist</option>
                <option value="owner">Owner only</option>
              </select>
            )}
          </Field>
          <Field label="Row schema" error={errors.schema}>
            {(id) => (
              <select id={id} value={form.schema} onChange={set('schema')}>
                <option value="text">Text</option>
                <option value="prompt_completion">Prompt / completion</option>
                <option value="text_label">Text / label</option>
              </select>
            )}
          </Field>
        </div>
        {error && (
          <div id="create-error">
            <Notice kind="error">{error}</Notice>
          </div>
        )}
        <div className="row">
          <button type="submit" className="btn btn-primary" disabled={busy || !w.signedIn}>
            {busy ? 'Creating…' : 'Create datanet'}
          </button>
          <a href="#/datanets" className="btn btn-ghost">
            Cancel
          </a>
        </div>
      </form>
    </section>
  );
}
