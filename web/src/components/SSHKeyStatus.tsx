/**
 * Onboarding progress: after sign-up berth generates the user's default SSH key and
 * registers it with DigitalOcean in the background. This follows it step by step until
 * the keys are ready, then offers the default key's one-time private key download. A
 * failure is said in berth's words with what the user can do about it.
 */
import { useState } from 'react';
import { errorMessage } from '../api/client.ts';
import { useSSHKeys } from '../hooks/useSSHKeys.ts';
import { ONBOARDING_STEPS, useUserOnboarding } from '../hooks/useUserOnboarding.ts';
import type { SaveFile } from '../lib/download.ts';
import { Badge, ErrorText, Spinner } from './ui.tsx';

export function SSHKeyStatus({ saveFile, pollMs }: { saveFile?: SaveFile; pollMs?: number }) {
  const onboarding = useUserOnboarding(pollMs ? { pollMs } : {});
  const ssh = useSSHKeys(saveFile ? { saveFile } : {});
  const [dismissed, setDismissed] = useState(false);

  if (onboarding.query.isPending) {
    return (
      <div className="status-strip">
        <Spinner label="Checking your SSH keys…" />
      </div>
    );
  }

  if (onboarding.query.isError) {
    return (
      <section className="status-panel status-bad" aria-label="SSH key setup">
        <ErrorText>Could not check your SSH key setup: {errorMessage(onboarding.query.error)}</ErrorText>
        <button type="button" className="button button-small" onClick={() => onboarding.query.refetch()}>
          Check again
        </button>
      </section>
    );
  }

  if (onboarding.isFailed) {
    return (
      <section className="status-panel status-bad" aria-labelledby="onboarding-failed">
        <h2 id="onboarding-failed">Your SSH key setup did not finish</h2>
        <p role="alert">{onboarding.error ?? 'berth could not set up your default SSH key.'}</p>
        <p>
          You can still generate or import a key on the <a href="#/keys">SSH keys</a> page: deploys use every
          key you have. If this keeps happening, tell your berth operator what it says above.
        </p>
      </section>
    );
  }

  if (!onboarding.isReady) {
    return (
      <section className="status-panel" aria-labelledby="onboarding-title">
        <h2 id="onboarding-title">Setting up your SSH key</h2>
        <ol className="steps">
          {ONBOARDING_STEPS.map((step, index) => {
            const state = index < onboarding.step ? 'done' : index === onboarding.step ? 'current' : 'todo';
            return (
              <li
                key={step.id}
                className={`step step-${state}`}
                aria-current={state === 'current' ? 'step' : undefined}
              >
                <span className="step-mark" aria-hidden="true" />
                {step.label}
                {state === 'done' ? <span className="visually-hidden"> (done)</span> : null}
              </li>
            );
          })}
        </ol>
        <p className="hint" role="status">
          {ONBOARDING_STEPS[onboarding.step]?.label}… This takes a few seconds; you can create agents
          meanwhile.
        </p>
      </section>
    );
  }

  const defaultKey = ssh.keys.find((k) => k.id === onboarding.keyId) ?? ssh.keys.find((k) => k.is_default);
  const download = ssh.downloadPrivateKey;
  const justDownloaded = download.isSuccess && download.variables?.id === defaultKey?.id;
  if (defaultKey?.private_key_available || (justDownloaded && !dismissed)) {
    return (
      <section className="status-panel status-good" aria-labelledby="onboarding-ready">
        <h2 id="onboarding-ready">Your SSH key is ready</h2>
        {download.isSuccess ? (
          <>
            <p role="status">
              Saved as <code>{download.data.fileName}</code>. Run{' '}
              <code>chmod 600 {download.data.fileName}</code> before you use it.
            </p>
            <button type="button" className="button button-small" onClick={() => setDismissed(true)}>
              Dismiss
            </button>
          </>
        ) : (
          <>
            <p>
              berth made the key “{defaultKey?.name}” for you and registered it with DigitalOcean. Download
              its private key now: <strong>berth hands it out once</strong>.
            </p>
            {download.isError ? <ErrorText>{errorMessage(download.error)}</ErrorText> : null}
            <button
              type="button"
              className="button button-primary"
              disabled={download.isPending}
              onClick={() => defaultKey && download.mutate(defaultKey)}
            >
              {download.isPending ? 'Downloading…' : 'Download private key'}
            </button>
          </>
        )}
      </section>
    );
  }

  return (
    <div className="status-strip">
      <Badge tone="good">SSH keys ready</Badge>
      <span className="hint">
        {ssh.keys.length === 1 ? '1 key goes' : `${ssh.keys.length} keys go`} on every new droplet.
      </span>
    </div>
  );
}
