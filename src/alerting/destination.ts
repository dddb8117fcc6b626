import { lookup } from "node:dns/promises"
import { isIP, isIPv4, isIPv6 } from "node:net"
import { Data, Effect } from "effect"

export type AddressClass =
  | "public"
  | "unspecified"
  | "loopback"
  | "private"
  | "link-local"
  | "cgnat"
  | "multicast"
  | "unique-local"
  | "reserved"
  | "invalid"

export class DestinationRefused extends Data.TaggedError("alerting/DestinationRefused")<{
  readonly host: string
  readonly reason: string
}> {}

export class DestinationUnresolved extends Data.TaggedError("alerting/DestinationUnresolved")<{
  readonly host: string
  readonly cause: unknown
}> {}

export interface ResolvedAddress {
  readonly address: string
  readonly family: number
}

export type Resolver = (host: string) => Effect.Effect<ReadonlyArray<ResolvedAddress>, DestinationUnresolved>

/** The URL to request and the vetted address to connect to; the caller must not resolve again. */
export interface CheckedDestination {
  readonly url: URL
  readonly address: string
  readonly family: 4 | 6
}

const V4_RANGES: ReadonlyArray<readonly [base: string, bits: number, cls: AddressClass]> = [
  ["0.0.0.0", 8, "unspecified"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "cgnat"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "reserved"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "reserved"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"]
]

const v4ToNumber = (ip: string): number => ip.split(".").reduce((acc, octet) => acc * 256 + Number(octet), 0)

const classifyV4Number = (ip: number): AddressClass => {
  const hit = V4_RANGES.find(([base, bits]) => ip >>> (32 - bits) === v4ToNumber(base) >>> (32 - bits))
  return hit?.[2] ?? "public"
}

const parseV6 = (ip: string): ReadonlyArray<number> => {
  const groups = (part: string): Array<number> =>
    part === ""
      ? []
      : part.split(":").flatMap((g) => {
          if (!g.includes(".")) return [parseInt(g, 16)]
          const v4 = v4ToNumber(g)
          return [Math.floor(v4 / 65536), v4 % 65536]
        })
  const [head = "", tail] = ip.split("::")
  const h = groups(head)
  if (tail === undefined) return h
  const t = groups(tail)
  return [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t]
}

const classifyV6 = (ip: string): AddressClass => {
  const g = parseV6(ip)
  const at = (i: number) => g[i] ?? 0
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0)
  const embeddedV4 = (hi: number, lo: number) => classifyV4Number(at(hi) * 65536 + at(lo))
  if (zeroUpTo(8)) return "unspecified"
  if (zeroUpTo(7) && at(7) === 1) return "loopback"
  if (zeroUpTo(5) && at(5) === 0xffff) return embeddedV4(6, 7) // ::ffff:a.b.c.d (IPv4-mapped)
  if (zeroUpTo(6)) return "reserved" // deprecated IPv4-compatible ::a.b.c.d
  // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) reach the embedded IPv4 address.
  if (at(0) === 0x64 && at(1) === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return embeddedV4(6, 7)
  if (at(0) === 0x2002) return embeddedV4(1, 2)
  if ((at(0) & 0xfe00) === 0xfc00) return "unique-local"
  if ((at(0) & 0xffc0) === 0xfe80) return "link-local"
  if ((at(0) & 0xffc0) === 0xfec0) return "private" // deprecated site-local
  if ((at(0) & 0xff00) === 0xff00) return "multicast"
  if (at(0) === 0x100 && g.slice(1, 4).every((x) => x === 0)) return "reserved" // discard-only 100::/64
  return "public"
}

/** Pure classification of an IP literal (zone ids like `%eth0` are ignored). */
export const classifyAddress = (address: string): AddressClass => {
  const ip = address.replace(/^\[|\]$/g, "").split("%")[0] ?? ""
  if (isIPv4(ip)) return classifyV4Number(v4ToNumber(ip))
  if (isIPv6(ip)) return classifyV6(ip.toLowerCase())
  return "invalid"
}

export const systemResolver: Resolver = (host) =>
  Effect.tryPromise({
    try: () => lookup(host, { all: true }),
    catch: (cause) => new DestinationUnresolved({ host, cause })
  })

/**
 * SSRF guard. Every resolved address must be public (unless `allowPrivate`), because a hostile
 * DNS answer may mix public and internal addresses; the first one is returned so the request
 * connects to exactly what was checked, closing the window for DNS rebinding.
 */
export const checkDestination = (
  rawUrl: string,
  options: { readonly allowPrivate: boolean; readonly resolve?: Resolver }
): Effect.Effect<CheckedDestination, DestinationRefused | DestinationUnresolved> =>
  Effect.gen(function* () {
    const url = URL.canParse(rawUrl) ? new URL(rawUrl) : undefined
    if (url === undefined) return yield* new DestinationRefused({ host: "", reason: "invalid URL" })
    const host = url.hostname.replace(/^\[|\]$/g, "")
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      return yield* new DestinationRefused({ host, reason: `scheme ${url.protocol} is not http(s)` })
    }
    if (url.username !== "" || url.password !== "") {
      return yield* new DestinationRefused({ host, reason: "URL must not contain credentials" })
    }
    const family = isIP(host)
    const addresses: ReadonlyArray<ResolvedAddress> =
      family !== 0 ? [{ address: host, family }] : yield* (options.resolve ?? systemResolver)(host)
    const first = addresses[0]
    if (first === undefined) return yield* new DestinationUnresolved({ host, cause: "no addresses" })
    if (!options.allowPrivate) {
      for (const { address } of addresses) {
        const cls = classifyAddress(address)
        if (cls !== "public") {
          return yield* new DestinationRefused({ host, reason: `${host} resolves to ${address} (${cls})` })
        }
      }
    }
    return { url, address: first.address, family: first.family === 6 ? 6 : 4 } as const
  })
