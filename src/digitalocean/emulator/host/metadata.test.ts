import { describe, expect, it } from 'vitest';
import { type MetadataSource, metadataAnswer, metadataDocument } from './metadata.ts';

const source: MetadataSource = {
  dropletId: 501000007,
  hostname: 'box',
  userData: '#cloud-config\n',
  publicKeys: ['ssh-ed25519 AAAA one', 'ssh-ed25519 AAAA two'],
  region: 'nyc3',
  tags: ['a', 'b'],
  address: '198.18.0.6',
  netmask: '255.255.255.252',
  gateway: '198.18.0.5',
  mac: '06:01:be:00:00:01',
};

describe('the droplet metadata service', () => {
  it('lists the top-level index with nested items marked by a slash', () => {
    const index = metadataAnswer(source, '/metadata/v1/');
    expect(index.status).toBe(200);
    expect(index.body.split('\n')).toEqual(
      expect.arrayContaining([
        'id',
        'hostname',
        'user-data',
        'vendor-data',
        'public-keys',
        'region',
        'interfaces/',
        'dns/',
        'tags/',
      ]),
    );
  });

  it('answers leaves as plain text, keys one per line', () => {
    expect(metadataAnswer(source, '/metadata/v1/id').body).toBe('501000007');
    expect(metadataAnswer(source, '/metadata/v1/user-data').body).toBe('#cloud-config\n');
    expect(metadataAnswer(source, '/metadata/v1/public-keys').body).toBe(
      'ssh-ed25519 AAAA one\nssh-ed25519 AAAA two',
    );
    expect(metadataAnswer(source, '/metadata/v1/interfaces/public/0/ipv4/address').body).toBe('198.18.0.6');
    expect(metadataAnswer(source, '/metadata/v1/tags/').body).toBe('0\n1');
  });

  it('redirects an index asked for without its slash, and 404s what does not exist', () => {
    expect(metadataAnswer(source, '/metadata/v1/interfaces')).toMatchObject({
      status: 301,
      location: '/metadata/v1/interfaces/',
    });
    expect(metadataAnswer(source, '/metadata/v1')).toMatchObject({ status: 301, location: '/metadata/v1/' });
    expect(metadataAnswer(source, '/metadata/v1/nope').status).toBe(404);
    expect(metadataAnswer(source, '/metadata/v1/id/').status).toBe(404);
    expect(metadataAnswer(source, '/latest/meta-data/').status).toBe(404);
  });

  it('serves the whole document as JSON in the shape cloud-init’s DigitalOcean datasource reads', () => {
    const answer = metadataAnswer(source, '/metadata/v1.json');
    expect(answer.json).toBe(true);
    const doc = JSON.parse(answer.body);
    expect(doc).toEqual(metadataDocument(source));
    expect(doc).toMatchObject({
      droplet_id: 501000007,
      hostname: 'box',
      user_data: '#cloud-config\n',
      public_keys: source.publicKeys,
      region: 'nyc3',
      dns: { nameservers: [] },
    });
    // Every interface list has a first entry: the datasource reads config[kind][0].
    for (const list of Object.values(doc.interfaces as Record<string, unknown[]>))
      expect(list.length).toBeGreaterThan(0);
    expect(doc.interfaces.public[0]).toEqual({
      ipv4: { ip_address: '198.18.0.6', netmask: '255.255.255.252', gateway: '198.18.0.5' },
      mac: '06:01:be:00:00:01',
      type: 'public',
    });
  });
});
