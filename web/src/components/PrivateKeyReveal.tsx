/**
 * The one moment berth shows a generated private key: a plain warning that it will not
 * be shown again, the key itself, a download and a copy. Dismissing it drops the key
 * from the page for good.
 */
import { useEffect, useId, useRef } from 'react';
import type { SshKey } from '../api/client.ts';
import type { SaveFile } from '../lib/download.ts';
import { privateKeyFileName } from '../lib/ssh.ts';
import { CopyButton } from './ui.tsx';

export function PrivateKeyReveal({
  keyInfo,
  privateKey,
  saveFile,
  onDone,
}: {
  keyInfo: SshKey;
  privateKey: string;
  saveFile: SaveFile;
  onDone: () => void;
}) {
  const id = useId();
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);
  const fileName = privateKeyFileName(keyInfo);

  return (
    <section className="panel reveal" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} ref={heading} tabIndex={-1}>
        Save the private key for “{keyInfo.name}”
      </h2>
      <p className="warning" role="note">
        <strong>This is the only time berth shows this private key.</strong> Download it or copy it now and
        keep it safe: berth cannot show it again. Anyone who has it can log in to your droplets.
      </p>
      <label className="visually-hidden" htmlFor={`${id}-key`}>
        Private key
      </label>
      <textarea
        id={`${id}-key`}
        className="mono secret"
        readOnly
        rows={8}
        value={privateKey}
        spellCheck={false}
      />
      <div className="actions">
        <button
          type="button"
          className="button button-primary"
          onClick={() => saveFile(fileName, privateKey)}
        >
          Download {fileName}
        </button>
        <CopyButton text={privateKey} label="the private key" />
        <button type="button" className="button" onClick={onDone}>
          I have saved it
        </button>
      </div>
      <p className="hint">
        Then: <code>chmod 600 {fileName}</code>
      </p>
    </section>
  );
}
