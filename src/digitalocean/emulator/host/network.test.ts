import { describe, expect, it } from 'vitest';
import { chooseHosts } from '../index.ts';
import { HOST_NETWORK, namespaceName, namespaceOwner, subnetAddresses } from './network.ts';

describe('the real hosts’ network plan', () => {
  it('hands out /30s of 198.18.0.0/15 only', () => {
    expect(HOST_NETWORK).toEqual({ base: '198.18.0.0', prefix: 15 });
    expect(subnetAddresses(0)).toEqual({ host: '198.18.0.1', droplet: '198.18.0.2' });
    expect(subnetAddresses(1)).toEqual({ host: '198.18.0.5', droplet: '198.18.0.6' });
    // The last /30 of the range ends at 198.19.255.255.
    expect(subnetAddresses(2 ** 15 - 1)).toEqual({ host: '198.19.255.253', droplet: '198.19.255.254' });
  });

  it('names namespaces after their owner so a dead owner’s can be found', () => {
    const name = namespaceName(4242, 'ab12cd', 501000001);
    expect(name).toBe('berth-do-4242-ab12cd-501000001');
    expect(namespaceOwner(name)).toBe(4242);
    expect(namespaceOwner('someone-elses')).toBeUndefined();
  });
});

describe('choosing the kind of droplet', () => {
  const capable = () => ({ ok: true as const });
  const incapable = () => ({ ok: false as const, reason: 'not running as root' });

  it('keeps light droplets unless asked otherwise', () => {
    expect(chooseHosts('light', true, capable).kind).toBe('light');
  });

  it('falls back to light droplets on auto and says why', () => {
    expect(chooseHosts('auto', true, capable).kind).toBe('real');
    expect(chooseHosts('auto', true, incapable)).toEqual({
      kind: 'light',
      reason: 'real hosts unavailable: not running as root',
    });
  });

  it('refuses real hosts where the machine cannot run them, rather than testing less', () => {
    expect(() => chooseHosts('real', true, incapable)).toThrow(/not available here: not running as root/);
  });
});
