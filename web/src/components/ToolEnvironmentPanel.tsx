/**
 * An agent's tool environment inside its card: the state, followed live while it moves;
 * the droplet's address and a copyable `ssh` command once it is active; a plain note when
 * berth had to use the operator's fallback keys; Deploy and Tear down.
 */
import { useId, useState } from 'react';
import { errorMessage } from '../api/client.ts';
import { useSSHKeys } from '../hooks/useSSHKeys.ts';
import { useToolEnvironment } from '../hooks/useToolEnvironment.ts';
import { CAN_TEAR_DOWN, canDeploy, MOVING, STATE_LABELS, stateTone } from '../lib/format.ts';
import { keyFilePath, loginKey, sshCommand } from '../lib/ssh.ts';
import { Badge, Confirm, CopyButton, ErrorText, Spinner } from './ui.tsx';

export function ToolEnvironmentPanel({
  agentId,
  agentName,
  pollMs,
}: {
  agentId: string;
  agentName: string;
  /** How often to ask while the environment moves (tests shorten it). */
  pollMs?: number;
}) {
  const id = useId();
  const { query, environment: env, deploy, teardown } = useToolEnvironment(agentId, pollMs ? { pollMs } : {});
  const { keys } = useSSHKeys();
  const [confirming, setConfirming] = useState(false);

  if (query.isPending) return <Spinner label="Loading the tool environment…" />;

  const state = env?.status ?? null;
  const key = env ? loginKey(env, keys) : null;
  const command = env?.status === 'active' ? sshCommand(env, keyFilePath(key)) : null;
  const actionError = deploy.error ?? teardown.error;

  return (
    <div className="environment">
      <div className="environment-head">
        <span className="label">Tool environment</span>
        <span aria-live="polite" data-testid="environment-state">
          {env ? (
            <Badge tone={stateTone(env.status)}>{STATE_LABELS[env.status]}</Badge>
          ) : (
            <Badge tone="neutral">Not deployed</Badge>
          )}
        </span>
      </div>

      {query.isError ? <ErrorText>{errorMessage(query.error)}</ErrorText> : null}
      {env && MOVING.has(env.status) ? (
        <p className="hint">
          {env.status === 'pending_creation' || env.status === 'creating'
            ? 'berth is creating the droplet with your SSH keys. This page follows it; no need to reload.'
            : 'berth is destroying the droplet. Your SSH keys stay.'}
        </p>
      ) : null}

      {env?.used_fallback_keys && env.login_access === 'fixed' ? (
        <p className="callout callout-warn" role="note">
          <strong>Created with the operator’s fallback keys.</strong> Your own keys were not ready, so berth
          used the keys your operator set up. Your keys may not log in: tear it down and deploy again once
          your SSH keys are ready.
        </p>
      ) : null}

      {env?.error_message ? <ErrorText>{env.error_message}</ErrorText> : null}

      {env && (env.ip_address || env.droplet_id !== null) ? (
        <dl className="facts">
          {env.ip_address ? (
            <div>
              <dt>Address</dt>
              <dd className="mono">{env.ip_address}</dd>
            </div>
          ) : null}
          {env.droplet_id !== null ? (
            <div>
              <dt>Droplet</dt>
              <dd className="mono">{env.droplet_id}</dd>
            </div>
          ) : null}
          <div>
            <dt>Access</dt>
            <dd data-testid="login-access">
              {env.login_access === 'live'
                ? 'Live: your SSH keys are checked at each login'
                : 'Fixed: only the keys it was created with'}
            </dd>
          </div>
        </dl>
      ) : null}

      {command ? (
        <figure className="command" aria-labelledby={`${id}-connect`}>
          <figcaption className="label" id={`${id}-connect`}>
            Connect
          </figcaption>
          <div className="command-row">
            <pre className="mono command-text">{command}</pre>
            <CopyButton text={command} label={`the ssh command for ${agentName}`} />
          </div>
          <p className="hint">
            {key
              ? `-i is the private key of “${key.name}”; change the path if you saved it elsewhere.`
              : '-i is the private key matching one of your SSH keys.'}
          </p>
        </figure>
      ) : null}

      {actionError ? <ErrorText>{errorMessage(actionError)}</ErrorText> : null}

      {confirming && env ? (
        <Confirm
          message={
            <>
              Tear down the droplet of <strong>{agentName}</strong>? Everything on it is lost. Your SSH keys
              stay.
            </>
          }
          confirmLabel="Tear down"
          busy={teardown.isPending}
          onConfirm={() => teardown.mutate(undefined, { onSettled: () => setConfirming(false) })}
          onCancel={() => setConfirming(false)}
        />
      ) : (
        <div className="actions">
          {canDeploy(state) ? (
            <button
              type="button"
              className="button button-primary"
              disabled={deploy.isPending}
              onClick={() => deploy.mutate()}
            >
              {deploy.isPending ? 'Deploying…' : state === 'error_creation' ? 'Deploy again' : 'Deploy'}
              <span className="visually-hidden"> {agentName}</span>
            </button>
          ) : null}
          {state && CAN_TEAR_DOWN.has(state) ? (
            <button type="button" className="button button-danger-quiet" onClick={() => setConfirming(true)}>
              Tear down<span className="visually-hidden"> {agentName}</span>
            </button>
          ) : null}
        </div>
      )}
    </div>
  );
}
