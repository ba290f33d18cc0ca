import { describe, expect, it } from 'vitest';
import { WireReader, WireWriter } from './wire.ts';

describe('WireWriter', () => {
  it('decodes base64url key bytes straight into place', () => {
    const bytes = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7));
    const written = new WireWriter(4 + 32).uint32(32).base64url(bytes.toString('base64url'), 32).finish();
    expect(new WireReader(written).string()).toEqual(bytes);
  });

  it('refuses base64url text that is missing, too short, too long or padded', () => {
    const text = Buffer.alloc(32, 0xab).toString('base64url');
    const writer = () => new WireWriter(64);
    expect(() => writer().base64url(undefined, 32)).toThrow(/missing or malformed/);
    expect(() => writer().base64url(text.slice(1), 32)).toThrow(/missing or malformed/);
    expect(() => writer().base64url(`${text}A`, 32)).toThrow(/missing or malformed/);
    expect(() => writer().base64url(Buffer.alloc(31).toString('base64'), 32)).toThrow(/malformed/);
  });

  it('writes UTF-8 text with its byte length, not its character count', () => {
    const text = 'zoë@berth';
    const length = Buffer.byteLength(text);
    const written = new WireWriter(4 + length).utf8(text, length).finish();
    expect(written.readUInt32BE(0)).toBe(10);
    expect(new WireReader(written).string().toString('utf8')).toBe(text);
  });

  it('fails rather than leave unwritten bytes when the size estimate is wrong', () => {
    expect(() => new WireWriter(8).uint32(1).finish()).toThrow(/wire size mismatch/);
    expect(() => new WireWriter(8).utf8('zoë', 3)).toThrow(/length mismatch/);
  });
});
