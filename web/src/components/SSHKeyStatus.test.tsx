import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { fakeBerth, json, keyFixture, renderWithApi, testClient } from '../test/harness.tsx';
import { SSHKeyStatus } from './SSHKeyStatus.tsx';

describe('SSHKeyStatus', () => {
  it('shows the steps while the key is made, then offers the default private key once', async () => {
    const user = userEvent.setup();
    const saveFile = vi.fn();
    const answers = ['generating', 'registering', 'ready'];
    let served = 0;
    let available = true;
    const berth = fakeBerth({
      'GET /api/onboarding': () =>
        json({
          status: answers[Math.min(served++, answers.length - 1)],
          error: null,
          key_id: keyFixture().id,
          updated_at: null,
        }),
      'GET /api/ssh-keys': () => json({ keys: [keyFixture({ private_key_available: available })] }),
      'GET /api/ssh-keys/{id}/private-key': () => {
        available = false;
        return new Response('PRIVATE KEY', {
          headers: { 'content-disposition': 'attachment; filename="berth-default-ed25519"' },
        });
      },
    });
    renderWithApi(<SSHKeyStatus saveFile={saveFile} pollMs={30} />, testClient(berth.fetch));

    const heading = await screen.findByRole('heading', { name: 'Setting up your SSH key' });
    expect(heading).toBeTruthy();
    expect(screen.getByText('Generating your SSH key').getAttribute('aria-current')).toBe('step');
    await screen.findByRole('heading', { name: 'Your SSH key is ready' }, { timeout: 2000 });

    await user.click(screen.getByRole('button', { name: 'Download private key' }));
    await waitFor(() => expect(saveFile).toHaveBeenCalledWith('berth-default-ed25519', 'PRIVATE KEY'));
    expect(await screen.findByText('berth-default-ed25519', { selector: 'code' })).toBeTruthy();
  });

  it('says what went wrong and what the user can do when onboarding failed', async () => {
    const berth = fakeBerth({
      'GET /api/onboarding': () =>
        json({ status: 'failed', error: 'DigitalOcean refused the key.', key_id: null, updated_at: null }),
      'GET /api/ssh-keys': () => json({ keys: [] }),
    });
    renderWithApi(<SSHKeyStatus pollMs={30} />, testClient(berth.fetch));
    expect((await screen.findByRole('alert')).textContent).toBe('DigitalOcean refused the key.');
    expect(screen.getByRole('link', { name: 'SSH keys' }).getAttribute('href')).toBe('#/keys');
  });

  it('settles into a one-line summary once the key is ready and downloaded', async () => {
    const berth = fakeBerth({
      'GET /api/onboarding': () =>
        json({ status: 'ready', error: null, key_id: keyFixture().id, updated_at: null }),
      'GET /api/ssh-keys': () =>
        json({ keys: [keyFixture(), keyFixture({ id: '77777777-7777-4777-8777-777777777777', name: 'b' })] }),
    });
    renderWithApi(<SSHKeyStatus pollMs={30} />, testClient(berth.fetch));
    expect(await screen.findByText('2 keys go on every new droplet.')).toBeTruthy();
    expect(screen.getByText('SSH keys ready')).toBeTruthy();
  });
});
