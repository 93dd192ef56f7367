/**
 * Who the client of a request is when reverse proxies (an ingress, a load balancer) stand between
 * it and the server: the proxies named in `TOKENPOOL_TRUSTED_PROXIES` are believed about the
 * client (`X-Forwarded-For`) and about its scheme (`X-Forwarded-Proto`); nobody else is.
 *
 * The client's address is found by walking `X-Forwarded-For` from the right, as each proxy appends
 * the address it received the request from: while the hop is a trusted proxy, the entry to its left
 * is believed; the first untrusted hop is the client. Entries to the left of it were written by the
 * client itself (or by proxies nobody vouches for) and are never read, so a forged header changes
 * nothing. An entry that is not a bare IP address (a port, `unknown`, an empty entry, garbage) ends
 * the walk at the trusted hop that passed it on: the proxy's address, never something the client
 * chose — all such clients then share the proxy's address (and its sign-in throttle), which errs
 * towards throttling too much rather than letting a client pick its own address. When every hop is
 * trusted, the client is the furthest of them.
 *
 * Addresses are compared and reported in one form: IPv4 dotted, an IPv4-mapped IPv6 address
 * (`::ffff:1.2.3.4`, as a dual-stack socket reports IPv4 peers) as its IPv4 address, other IPv6
 * compressed and lower-case, without a zone.
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { TLSSocket } from 'node:tls';

/** The proxies whose forwarded headers are believed. */
export interface TrustedProxies {
  /** Whether `address` (in any form a socket or a header gives it) is a trusted proxy's. */
  has(address: string): boolean;
}

/** The client of one request, as the pipeline hands it to every consumer. */
export interface Client {
  /** The real client's address (see the module comment); undefined when the socket has none. */
  readonly address: string | undefined;
  /** Whether the client reached the server over TLS: directly, or says a trusted proxy. */
  readonly secure: boolean;
}

/** Trusts nobody: the default, and what an empty `TOKENPOOL_TRUSTED_PROXIES` means. */
export const NO_TRUSTED_PROXIES: TrustedProxies = { has: () => false };

const MAPPED_DOTTED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;
const MAPPED_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;
/** Addresses whose trust is remembered (BlockList.check costs microseconds); past it, forgotten and started again. */
const REMEMBERED = 4096;
const PREFIX = /^\d{1,3}$/;

/**
 * An IP address in the one form this module compares and reports (module comment); undefined when
 * `text` is not an IP address.
 */
export function canonicalAddress(text: string): string | undefined {
  if (isIPv4(text)) return text;
  // How a dual-stack socket reports every IPv4 peer: spared the URL parser.
  const dotted = MAPPED_DOTTED.exec(text)?.[1];
  if (dotted !== undefined && isIPv4(dotted)) return dotted;
  if (!isIPv6(text)) return undefined;
  // The WHATWG URL parser writes IPv6 compressed and lower-case, a mapped IPv4 address in hex.
  const host = new URL(`http://[${text.split('%')[0]!}]`).hostname.slice(1, -1);
  const mapped = MAPPED_HEX.exec(host);
  if (!mapped) return host;
  const [high, low] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/**
 * Reads `TOKENPOOL_TRUSTED_PROXIES`: IP addresses and CIDR ranges (`10.0.0.0/8`, `fd00::/8`,
 * `127.0.0.1`), IPv4 or IPv6, separated by commas; blanks around entries and empty entries are
 * ignored. Answers the entries in canonical form; throws an Error saying which entry is wrong.
 */
export function parseTrustedProxies(text: string): string[] {
  const entries: string[] = [];
  for (const part of text.split(',')) {
    const entry = part.trim();
    if (entry === '') continue;
    const [address = '', prefix, ...rest] = entry.split('/');
    const canonical = canonicalAddress(address);
    const bits = isIPv4(address) ? 32 : 128;
    if (canonical === undefined || rest.length > 0 || address.includes('%')) {
      throw new Error(`"${entry}" is not an IP address or a CIDR range (e.g. 10.0.0.0/8, fd00::/8, 127.0.0.1)`);
    }
    if (prefix === undefined) {
      entries.push(canonical);
      continue;
    }
    if (!PREFIX.test(prefix) || Number(prefix) > bits) {
      throw new Error(`the prefix length of "${entry}" must be a whole number from 0 to ${bits}`);
    }
    // A range written as mapped IPv6 (`::ffff:10.0.0.0/104`) is the IPv4 range it maps; addresses
    // are compared in IPv4 form.
    const length = bits === 128 && isIPv4(canonical) ? Number(prefix) - 96 : Number(prefix);
    if (length < 0) throw new Error(`"${entry}" covers more than IPv4-mapped addresses; write the IPv4 range instead`);
    entries.push(`${canonical}/${length}`);
  }
  return entries;
}

/** The proxies of `entries` (as parseTrustedProxies answers them), matched by node:net's BlockList. */
export function trustedProxies(entries: readonly string[]): TrustedProxies {
  if (entries.length === 0) return NO_TRUSTED_PROXIES;
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.split('/');
    const family = isIPv4(address) ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  const known = new Map<string, boolean>();
  return {
    has(address) {
      let trusted = known.get(address);
      if (trusted === undefined) {
        const canonical = canonicalAddress(address);
        trusted = canonical !== undefined && list.check(canonical, isIPv4(canonical) ? 'ipv4' : 'ipv6');
        if (known.size >= REMEMBERED) known.clear();
        known.set(address, trusted);
      }
      return trusted;
    },
  };
}

/**
 * The address of the client behind `peer` (the socket's remote address) given the request's
 * `X-Forwarded-For` (repeated headers joined with commas): the socket's own unless the peer is a
 * trusted proxy, else found by the walk of the module comment. Canonical form; a peer that is no IP
 * address (none should be) is answered as is.
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | undefined, trusted: TrustedProxies): string | undefined {
  if (peer === undefined) return undefined;
  let hop = canonicalAddress(peer) ?? peer;
  if (forwardedFor === undefined || !trusted.has(hop)) return hop;
  const entries = forwardedFor.split(',');
  for (let i = entries.length - 1; i >= 0; i--) {
    const next = canonicalAddress(entries[i]!.trim());
    if (next === undefined) return hop;
    hop = next;
    if (!trusted.has(hop)) return hop;
  }
  return hop;
}

/** The client of `req` (module comment): its address, and whether it came over TLS. */
export function clientOf(req: IncomingMessage, trusted: TrustedProxies): Client {
  const peer = req.socket.remoteAddress;
  const fromProxy = peer !== undefined && trusted.has(peer);
  // Node joins a repeated X-Forwarded-For with commas; an array would be the same list.
  const given = req.headers['x-forwarded-for'];
  const forwardedFor = Array.isArray(given) ? given.join(',') : given;
  return {
    address: clientAddress(peer, fromProxy ? forwardedFor : undefined, trusted),
    secure: (req.socket as Partial<TLSSocket>).encrypted === true || (fromProxy && req.headers['x-forwarded-proto'] === 'https'),
  };
}
