import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { fakeBerth, json, keyFixture, problem, renderWithApi, testClient } from '../test/harness.tsx';
import { ToolEnvironmentPanel } from './ToolEnvironmentPanel.tsx';

const AGENT = '44444444-4444-4444-8444-444444444444';

function environment(status: string, extra: Record<string, unknown> = {}) {
  return {
    id: '55555555-5555-4555-8555-555555555555',
    agent_id: AGENT,
    status,
    droplet_id: 501000001,
    name: 'berth-agent',
    ip_address: status === 'active' ? '203.0.113.7' : null,
    ssh_port: 22,
    ssh_user: 'root',
    ssh_key_fingerprints: [keyFixture().fingerprint_md5],
    used_fallback_keys: false,
    login_access: 'live',
    error_message: null,
    created_at: '2026-01-02T03:04:05.000Z',
    updated_at: '2026-01-02T03:04:05.000Z',
    ...extra,
  };
}

describe('ToolEnvironmentPanel', () => {
  it('deploys and follows the droplet to active, then shows its address and the ssh command', async () => {
    const user = userEvent.setup();
    const states = ['creating', 'active'];
    let deployed = false;
    let polled = 0;
    const berth = fakeBerth({
      'GET /api/ssh-keys': () => json({ keys: [keyFixture()] }),
      'GET /api/agents/{id}/tool-environment': () =>
        deployed
          ? json({ environment: environment(states[Math.min(polled++, 1)] as string) })
          : problem(404, 'not-found', 'Tool environment not found'),
      'POST /api/agents/{id}/tool-environment': () => {
        deployed = true;
        return json({ environment: environment('pending_creation', { droplet_id: null }) }, 202);
      },
    });
    renderWithApi(
      <ToolEnvironmentPanel agentId={AGENT} agentName="scout" pollMs={30} />,
      testClient(berth.fetch),
    );

    expect(await screen.findByText('Not deployed')).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Deploy scout' }));
    expect(await screen.findByText('Queued')).toBeTruthy();
    expect(await screen.findByText('Active', {}, { timeout: 2000 })).toBeTruthy();

    expect(screen.getByText('203.0.113.7')).toBeTruthy();
    const connect = screen.getByRole('figure', { name: 'Connect' });
    expect(
      within(connect).getByText('ssh -i ~/Downloads/berth-default-ed25519 root@203.0.113.7'),
    ).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Deploy scout' })).toBeNull();
  });

  it('says plainly when the droplet was created with the operator’s fallback keys', async () => {
    const berth = fakeBerth({
      'GET /api/ssh-keys': () => json({ keys: [] }),
      'GET /api/agents/{id}/tool-environment': () =>
        json({
          environment: environment('active', {
            used_fallback_keys: true,
            login_access: 'fixed',
            ssh_key_fingerprints: [],
          }),
        }),
    });
    renderWithApi(
      <ToolEnvironmentPanel agentId={AGENT} agentName="scout" pollMs={10_000} />,
      testClient(berth.fetch),
    );
    const note = await screen.findByRole('note');
    expect(note.textContent).toContain('Created with the operator’s fallback keys.');
    expect(screen.getByTestId('login-access').textContent).toBe('Fixed: only the keys it was created with');
  });

  it('says a droplet’s access is live when its logins are checked against berth', async () => {
    const berth = fakeBerth({
      'GET /api/ssh-keys': () => json({ keys: [keyFixture()] }),
      'GET /api/agents/{id}/tool-environment': () => json({ environment: environment('active') }),
    });
    renderWithApi(
      <ToolEnvironmentPanel agentId={AGENT} agentName="scout" pollMs={10_000} />,
      testClient(berth.fetch),
    );
    expect((await screen.findByTestId('login-access')).textContent).toBe(
      'Live: your SSH keys are checked at each login',
    );
  });

  it('tears down only after confirming, and offers to retry a failed deploy', async () => {
    const user = userEvent.setup();
    let current = environment('error_creation', { error_message: 'DigitalOcean has no capacity in nyc3.' });
    const berth = fakeBerth({
      'GET /api/ssh-keys': () => json({ keys: [] }),
      'GET /api/agents/{id}/tool-environment': () => json({ environment: current }),
      'DELETE /api/agents/{id}/tool-environment': () => {
        current = environment('pending_deletion');
        return json({ environment: current }, 202);
      },
    });
    renderWithApi(
      <ToolEnvironmentPanel agentId={AGENT} agentName="scout" pollMs={10_000} />,
      testClient(berth.fetch),
    );
    expect(await screen.findByText('DigitalOcean has no capacity in nyc3.')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Deploy again scout' })).toBeTruthy();

    await user.click(screen.getByRole('button', { name: 'Tear down scout' }));
    const confirm = screen.getByRole('alertdialog');
    expect(confirm.textContent).toContain('Tear down the droplet of scout?');
    expect(berth.sent.filter((s) => s.method === 'DELETE')).toHaveLength(0);
    await user.click(within(confirm).getByRole('button', { name: 'Tear down' }));
    expect(await screen.findByText('Tear-down queued')).toBeTruthy();
    expect(berth.sent.filter((s) => s.method === 'DELETE')).toHaveLength(1);
  });

  it('shows why a deploy was refused at the user’s limit, in berth’s words', async () => {
    const user = userEvent.setup();
    const detail =
      'You have 5 live tool environments, and berth allows 5 per user (the live_environments_per_user limit). ' +
      'Tear one down to deploy another; it stops counting once it is deleted.';
    const berth = fakeBerth({
      'GET /api/ssh-keys': () => json({ keys: [keyFixture()] }),
      'GET /api/agents/{id}/tool-environment': () => problem(404, 'not-found', 'Tool environment not found'),
      'POST /api/agents/{id}/tool-environment': () => problem(409, 'limit-reached', detail),
    });
    renderWithApi(
      <ToolEnvironmentPanel agentId={AGENT} agentName="scout" pollMs={10_000} />,
      testClient(berth.fetch),
    );
    await user.click(await screen.findByRole('button', { name: 'Deploy scout' }));
    expect(await screen.findByText(detail)).toBeTruthy();
    expect(screen.getByText('Not deployed')).toBeTruthy();
  });
});
