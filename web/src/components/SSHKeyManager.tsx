/**
 * The SSH keys page: every key of the user with its details, generating a pair (its
 * private key shown once), importing a public key and deleting a key. The keys listed
 * here are the ones berth puts on each droplet it deploys for the user.
 */
import { useState } from 'react';
import { errorMessage, type SshKey } from '../api/client.ts';
import { useSSHKeys } from '../hooks/useSSHKeys.ts';
import { type SaveFile, saveTextFile } from '../lib/download.ts';
import { KeyCard } from './KeyCard.tsx';
import { GenerateKeyForm, ImportKeyForm } from './KeyForms.tsx';
import { PrivateKeyReveal } from './PrivateKeyReveal.tsx';
import { EmptyState, ErrorText, Spinner } from './ui.tsx';

type Panel = 'none' | 'generate' | 'import';

export function SSHKeyManager({ saveFile = saveTextFile }: { saveFile?: SaveFile }) {
  const ssh = useSSHKeys({ saveFile });
  const [panel, setPanel] = useState<Panel>('none');
  const [revealed, setRevealed] = useState<{ key: SshKey; private_key: string } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const open = (next: Panel) => {
    setNotice(null);
    ssh.generate.reset();
    ssh.importKey.reset();
    setPanel((current) => (current === next ? 'none' : next));
  };

  return (
    <section className="page" aria-labelledby="keys-heading">
      <header className="page-head">
        <div>
          <h1 id="keys-heading">SSH keys</h1>
          <p className="lede">
            Every key here opens your agents’ droplets, running ones included: a key you add logs in at the
            next login, a key you delete is refused from then on. Droplets whose access says “fixed” keep the
            keys they were created with.
          </p>
        </div>
        <div className="actions">
          <button
            type="button"
            className="button button-primary"
            aria-expanded={panel === 'generate'}
            onClick={() => open('generate')}
          >
            Generate key
          </button>
          <button
            type="button"
            className="button"
            aria-expanded={panel === 'import'}
            onClick={() => open('import')}
          >
            Import public key
          </button>
        </div>
      </header>

      {revealed ? (
        <PrivateKeyReveal
          keyInfo={revealed.key}
          privateKey={revealed.private_key}
          saveFile={saveFile}
          onDone={() => setRevealed(null)}
        />
      ) : null}
      {panel === 'generate' ? (
        <GenerateKeyForm
          generate={ssh.generate}
          onGenerated={(result) => {
            setRevealed(result);
            setPanel('none');
          }}
          onCancel={() => setPanel('none')}
        />
      ) : null}
      {panel === 'import' ? (
        <ImportKeyForm
          importKey={ssh.importKey}
          onImported={(key) => {
            setNotice(`Imported “${key.name}”.`);
            setPanel('none');
          }}
          onCancel={() => setPanel('none')}
        />
      ) : null}
      <div role="status">{notice ? <p className="success-text">{notice}</p> : null}</div>

      {ssh.query.isPending ? (
        <Spinner label="Loading your keys…" />
      ) : ssh.query.isError ? (
        <div>
          <ErrorText>{errorMessage(ssh.query.error)}</ErrorText>
          <button type="button" className="button" onClick={() => ssh.query.refetch()}>
            Try again
          </button>
        </div>
      ) : ssh.keys.length === 0 ? (
        <EmptyState title="No SSH keys yet">
          <p>
            Generate a key pair or import a public key you already use. Droplets get every key listed here.
          </p>
        </EmptyState>
      ) : (
        <ul className="cards" aria-label="Your SSH keys">
          {ssh.keys.map((key) => (
            <KeyCard
              key={key.id}
              sshKey={key}
              remove={ssh.remove}
              downloadPrivateKey={ssh.downloadPrivateKey}
            />
          ))}
        </ul>
      )}
    </section>
  );
}
