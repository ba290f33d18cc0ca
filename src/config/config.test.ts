import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('the droplet API settings', () => {
  const droplet = (env: Record<string, string>) => loadConfig(env).dropletApi;

  it('are off by default, with an hour of grace', () => {
    expect(droplet({})).toEqual({ url: undefined, port: undefined, host: '127.0.0.1', graceSeconds: 3600 });
  });

  it('take an https URL, and http only on loopback or the local emulator’s range', () => {
    expect(droplet({ BERTH_DROPLET_API_URL: 'https://berth.example.com:8443/' }).url).toBe(
      'https://berth.example.com:8443',
    );
    expect(droplet({ BERTH_DROPLET_API_URL: 'http://127.0.0.1:8082' }).url).toBe('http://127.0.0.1:8082');
    expect(droplet({ BERTH_DROPLET_API_URL: 'http://198.18.0.1:8082' }).url).toBe('http://198.18.0.1:8082');
    for (const url of [
      'http://berth.example.com',
      'ftp://127.0.0.1',
      'https://x.example/?a=1',
      'not a url',
    ]) {
      expect(() => droplet({ BERTH_DROPLET_API_URL: url })).toThrow(ConfigError);
    }
  });

  it('refuse a negative grace', () => {
    expect(() => droplet({ BERTH_DROPLET_LOGIN_GRACE_SECONDS: '-1' })).toThrow(ConfigError);
    expect(droplet({ BERTH_DROPLET_LOGIN_GRACE_SECONDS: '60' }).graceSeconds).toBe(60);
  });
});
