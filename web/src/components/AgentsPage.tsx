/**
 * The agents page: create an agent, and for each one its tool environment (deploy,
 * follow, connect, tear down) and deleting it once nothing is deployed.
 */
import { type FormEvent, useState } from 'react';
import { type Agent, ApiError, errorMessage } from '../api/client.ts';
import { useAgents } from '../hooks/useAgents.ts';
import { useToolEnvironment } from '../hooks/useToolEnvironment.ts';
import { canDeploy, formatDate } from '../lib/format.ts';
import { ToolEnvironmentPanel } from './ToolEnvironmentPanel.tsx';
import { Confirm, EmptyState, ErrorText, Spinner } from './ui.tsx';

export function AgentsPage() {
  const { agents, query, create, remove } = useAgents();
  const [name, setName] = useState('');
  const nameError = create.error instanceof ApiError ? create.error.messageFor('name') : undefined;

  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate(name.trim(), { onSuccess: () => setName('') });
  };

  return (
    <section className="page" aria-labelledby="agents-heading">
      <header className="page-head">
        <div>
          <h1 id="agents-heading">Agents</h1>
          <p className="lede">
            Each agent gets its own tool environment: a droplet with your SSH keys on it.
          </p>
        </div>
      </header>
      <form className="inline-form" onSubmit={submit}>
        <div className="field">
          <label htmlFor="new-agent-name">New agent name</label>
          <input
            id="new-agent-name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            required
            maxLength={100}
            autoComplete="off"
            placeholder="research-assistant"
            aria-invalid={nameError ? true : undefined}
            aria-describedby={create.isError ? 'new-agent-error' : undefined}
          />
        </div>
        <button type="submit" className="button button-primary" disabled={create.isPending}>
          {create.isPending ? 'Creating…' : 'Create agent'}
        </button>
      </form>
      {create.isError ? (
        <ErrorText id="new-agent-error">{nameError ?? errorMessage(create.error)}</ErrorText>
      ) : null}

      {query.isPending ? (
        <Spinner label="Loading your agents…" />
      ) : query.isError ? (
        <div>
          <ErrorText>{errorMessage(query.error)}</ErrorText>
          <button type="button" className="button" onClick={() => query.refetch()}>
            Try again
          </button>
        </div>
      ) : agents.length === 0 ? (
        <EmptyState title="No agents yet">
          <p>Create an agent above, then deploy its tool environment with one click.</p>
        </EmptyState>
      ) : (
        <ul className="cards" aria-label="Your agents">
          {agents.map((agent) => (
            <AgentCard key={agent.id} agent={agent} remove={remove} />
          ))}
        </ul>
      )}
    </section>
  );
}

function AgentCard({ agent, remove }: { agent: Agent; remove: ReturnType<typeof useAgents>['remove'] }) {
  const [confirming, setConfirming] = useState(false);
  const { environment } = useToolEnvironment(agent.id);
  const mine = remove.variables?.id === agent.id;
  const deletable = canDeploy(environment?.status) && environment?.status !== 'error_creation';
  const headingId = `agent-${agent.id}`;

  return (
    <li className="card" aria-labelledby={headingId}>
      <div className="card-head">
        <h2 id={headingId} className="card-title">
          {agent.name}
        </h2>
        <span className="hint">Created {formatDate(agent.created_at)}</span>
      </div>
      <ToolEnvironmentPanel agentId={agent.id} agentName={agent.name} />
      {mine && remove.isError ? <ErrorText>{errorMessage(remove.error)}</ErrorText> : null}
      {confirming ? (
        <Confirm
          message={
            <>
              Delete the agent <strong>{agent.name}</strong>? This cannot be undone.
            </>
          }
          confirmLabel={`Delete agent ${agent.name}`}
          busy={mine && remove.isPending}
          onConfirm={() => remove.mutate(agent, { onSettled: () => setConfirming(false) })}
          onCancel={() => setConfirming(false)}
        />
      ) : deletable ? (
        <div className="card-foot">
          <button type="button" className="button button-quiet" onClick={() => setConfirming(true)}>
            Delete agent<span className="visually-hidden"> {agent.name}</span>
          </button>
        </div>
      ) : null}
    </li>
  );
}
