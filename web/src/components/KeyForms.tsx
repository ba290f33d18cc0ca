/**
 * The two ways to add an SSH key: berth generates a pair (the private half is shown once
 * by PrivateKeyReveal), or the user imports a public key they already have. berth's
 * validation message is shown next to the field it is about.
 */
import { type FormEvent, useId, useState } from 'react';
import { ApiError, errorMessage, type KeyAlgorithm, type SshKey } from '../api/client.ts';
import type { useSSHKeys } from '../hooks/useSSHKeys.ts';
import { ErrorText } from './ui.tsx';

type SshKeys = ReturnType<typeof useSSHKeys>;

const ALGORITHMS: { value: KeyAlgorithm; label: string }[] = [
  { value: 'ed25519', label: 'Ed25519 (recommended)' },
  { value: 'ecdsa-p256', label: 'ECDSA P-256' },
  { value: 'rsa', label: 'RSA 3072' },
];

export function GenerateKeyForm({
  generate,
  onGenerated,
  onCancel,
}: {
  generate: SshKeys['generate'];
  onGenerated: (result: { key: SshKey; private_key: string }) => void;
  onCancel: () => void;
}) {
  const id = useId();
  const [name, setName] = useState('');
  const [algorithm, setAlgorithm] = useState<KeyAlgorithm>('ed25519');
  const error = generate.error;
  const nameError = error instanceof ApiError ? error.messageFor('name') : undefined;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    generate.mutate({ name: name.trim(), algorithm }, { onSuccess: onGenerated });
  };

  return (
    <form className="panel form" onSubmit={submit} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Generate a key pair</h2>
      <p className="hint">
        berth generates the pair, keeps the private key encrypted and shows it to you once, right after this.
      </p>
      <KeyNameField id={id} value={name} onChange={setName} error={nameError} placeholder="laptop" />
      <div className="field">
        <label htmlFor={`${id}-algorithm`}>Algorithm</label>
        <select
          id={`${id}-algorithm`}
          value={algorithm}
          onChange={(e) => setAlgorithm(e.target.value as KeyAlgorithm)}
        >
          {ALGORITHMS.map((a) => (
            <option key={a.value} value={a.value}>
              {a.label}
            </option>
          ))}
        </select>
      </div>
      {error && !nameError ? <ErrorText>{errorMessage(error)}</ErrorText> : null}
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={generate.isPending}>
          {generate.isPending ? 'Generating…' : 'Generate key'}
        </button>
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export function ImportKeyForm({
  importKey,
  onImported,
  onCancel,
}: {
  importKey: SshKeys['importKey'];
  onImported: (key: SshKey) => void;
  onCancel: () => void;
}) {
  const id = useId();
  const [name, setName] = useState('');
  const [publicKey, setPublicKey] = useState('');
  const error = importKey.error;
  const nameError = error instanceof ApiError ? error.messageFor('name') : undefined;
  // A key berth refuses (422), or one already in the account (409), is about the key field.
  const keyError =
    error instanceof ApiError
      ? (error.messageFor('public_key') ??
        (error.status === 422 || error.status === 409 ? error.message : undefined))
      : undefined;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    importKey.mutate({ name: name.trim(), public_key: publicKey.trim() }, { onSuccess: onImported });
  };

  return (
    <form className="panel form" onSubmit={submit} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Import a public key</h2>
      <p className="hint">
        Paste one line from a <code>.pub</code> file, e.g. <code>~/.ssh/id_ed25519.pub</code>. Never paste a
        private key.
      </p>
      <KeyNameField id={id} value={name} onChange={setName} error={nameError} placeholder="work laptop" />
      <div className="field">
        <label htmlFor={`${id}-key`}>Public key</label>
        <textarea
          id={`${id}-key`}
          className="mono"
          rows={4}
          value={publicKey}
          onChange={(e) => setPublicKey(e.target.value)}
          required
          spellCheck={false}
          placeholder="ssh-ed25519 AAAAC3Nza… you@host"
          aria-invalid={keyError ? true : undefined}
          aria-describedby={keyError ? `${id}-key-error` : undefined}
        />
        {keyError ? <ErrorText id={`${id}-key-error`}>{keyError}</ErrorText> : null}
      </div>
      {error && !nameError && !keyError ? <ErrorText>{errorMessage(error)}</ErrorText> : null}
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={importKey.isPending}>
          {importKey.isPending ? 'Importing…' : 'Import key'}
        </button>
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** The key name input both forms share, with the API's message for it beside it. */
function KeyNameField(props: {
  id: string;
  value: string;
  onChange: (value: string) => void;
  error: string | null | undefined;
  placeholder: string;
}) {
  const { id, error } = props;
  return (
    <div className="field">
      <label htmlFor={`${id}-name`}>Key name</label>
      <input
        id={`${id}-name`}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
        required
        maxLength={100}
        autoComplete="off"
        placeholder={props.placeholder}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-name-error` : undefined}
      />
      {error ? <ErrorText id={`${id}-name-error`}>{error}</ErrorText> : null}
    </div>
  );
}
