import { describe, expect, it } from 'vitest';
import { disallowedReason, HttpDestinationRefused, hostAllowed, vetDestination, type Resolver } from '../../job-types/http-guard.js';
import { retryAfterMs } from '../../job-types/http-response.js';

describe('disallowedReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved/broadcast'],
    ['::1', 'unspecified/loopback'],
    ['::', 'unspecified/loopback'],
    ['fd00:ec2::254', 'unique local (private)'],
    ['fe80::1', 'link-local'],
    ['::ffff:127.0.0.1', 'loopback (IPv4 127.0.0.1 inside IPv6)'],
    ['::ffff:a9fe:a9fe', 'link-local (cloud metadata) (IPv4 169.254.169.254 inside IPv6)'],
    ['64:ff9b::10.0.0.1', 'private (IPv4 10.0.0.1 inside IPv6)'],
    ['2002:c0a8:0101::1', 'private (IPv4 192.168.1.1 inside IPv6)'],
  ])('refuses %s (%s)', (ip, reason) => {
    expect(disallowedReason(ip)).toBe(reason);
  });

  it.each(['93.184.215.14', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::6810:84e5', '::ffff:8.8.8.8'])('allows public %s', (ip) => {
    expect(disallowedReason(ip)).toBeUndefined();
  });
});

describe('vetDestination', () => {
  // A resolver stands in for DNS answers an attacker controls (the real one is used elsewhere).
  const answers = (...addresses: string[]): Resolver => async () => addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

  it('refuses a name that resolves to a private address among public ones', async () => {
    await expect(vetDestination(new URL('http://mixed.example/'), [], answers('8.8.8.8', '10.0.0.5'))).rejects.toBeInstanceOf(HttpDestinationRefused);
  });

  it('refuses a decimal-encoded loopback literal (the URL parser normalises it)', async () => {
    await expect(vetDestination(new URL('http://2130706433/'), [])).rejects.toThrow(/127\.0\.0\.1: loopback/);
  });

  it('refuses localhost through real DNS resolution', async () => {
    await expect(vetDestination(new URL('http://localhost:1/'), [])).rejects.toThrow(/loopback/);
  });

  it('allows a private address when the allow-list names the host, and returns the vetted addresses', async () => {
    const vetted = await vetDestination(new URL('http://intranet.example/'), ['intranet.example'], answers('10.0.0.5'));
    expect(vetted).toEqual([{ address: '10.0.0.5', family: 4 }]);
  });

  it('refuses non-http schemes', async () => {
    await expect(vetDestination(new URL('file:///etc/passwd'), [])).rejects.toBeInstanceOf(HttpDestinationRefused);
  });

  it('matches allow-list entries exactly or by *.suffix', () => {
    expect(hostAllowed('API.Internal.example', ['*.internal.example'])).toBe(true);
    expect(hostAllowed('internal.example.evil', ['*.internal.example'])).toBe(false);
    expect(hostAllowed('127.0.0.2', ['127.0.0.1'])).toBe(false);
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-11-22T12:00:00Z');
  it('reads delta-seconds and HTTP dates, clamps, and ignores garbage', () => {
    expect(retryAfterMs('3', now)).toBe(3_000);
    expect(retryAfterMs('Sun, 22 Nov 2026 12:00:05 GMT', now)).toBe(5_000);
    expect(retryAfterMs('Sun, 22 Nov 2026 11:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('999999', now)).toBe(60 * 60_000);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });
});
