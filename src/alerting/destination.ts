import { lookup } from "node:dns/promises"
import { isIP, isIPv4, isIPv6 } from "node:net"
import { Data, Effect } from "effect"
import ipaddr from "ipaddr.js"

/** "public" (global unicast: the only class a webhook may reach by default) or the special range it is in. */
export type AddressClass = string

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

// ipaddr.js's range names, shortened where the name says little to an operator reading a refusal.
const RENAMED: Readonly<Record<string, string>> = {
  carrierGradeNat: "cgnat",
  rfc6052: "nat64",
  rfc6145: "ipv4-translated",
  as112v6: "as112",
  deprecatedSiteLocal: "site-local",
  droneRemoteIdProtocolEntityTags: "drip"
}
const kebab = (name: string) => RENAMED[name] ?? name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

// IANA's global unicast space; ipaddr.js calls anything outside its special ranges "unicast", ::a.b.c.d included.
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR("2000::/3")

/**
 * Pure classification of an IP literal by ipaddr.js's special-purpose ranges (zone ids like `%eth0`
 * are ignored). Only global unicast is "public": IPv6 forms that embed an IPv4 address (mapped,
 * translated, NAT64, 6to4, Teredo) are classed by their own range, never by the address inside.
 */
export const classifyAddress = (address: string): AddressClass => {
  const ip = address.replace(/^\[|\]$/g, "").split("%")[0] ?? ""
  if (isIPv4(ip)) {
    const range = ipaddr.IPv4.parse(ip).range()
    return range === "unicast" ? "public" : kebab(range)
  }
  if (isIPv6(ip)) {
    const v6 = ipaddr.IPv6.parse(ip)
    const range = v6.range()
    if (range !== "unicast") return kebab(range)
    return v6.match(GLOBAL_UNICAST_V6) ? "public" : "reserved"
  }
  return "invalid"
}

/** Why a URL whose host is an IP literal may not be a webhook destination, or undefined (names are checked at delivery). */
export const literalDestinationProblem = (rawUrl: string): string | undefined => {
  if (!URL.canParse(rawUrl)) return undefined
  const host = new URL(rawUrl).hostname.replace(/^\[|\]$/g, "")
  if (isIP(host) === 0) return undefined
  const cls = classifyAddress(host)
  return cls === "public" ? undefined : `${host} is a ${cls} address; webhooks go to public addresses only (MPLP_ALLOW_PRIVATE_WEBHOOKS allows others)`
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
