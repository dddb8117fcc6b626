import ipaddr from "ipaddr.js"

type Address = ipaddr.IPv4 | ipaddr.IPv6

const parse = (raw: string): Address | undefined => {
  // X-Forwarded-For entries may carry a port: "203.0.113.7:5123", "[2001:db8::1]:443".
  const s = raw.trim().replace(/^\[([^\]]+)\](?::\d+)?$/, "$1").replace(/^(\d+\.\d+\.\d+\.\d+):\d+$/, "$1")
  if (!ipaddr.isValid(s)) return undefined
  // IPv4-mapped IPv6 (how a dual-stack socket reports an IPv4 peer) counts as the IPv4 address.
  return ipaddr.process(s.split("%")[0] ?? s)
}

/**
 * The identity a failed sign-in is counted against: an IPv4 address, or an IPv6 address's /64 (one
 * host commonly holds a whole /64, so counting single IPv6 addresses would count nothing).
 */
const identity = (a: Address): string => {
  if (a.kind() === "ipv4") return a.toString()
  const parts = (a as ipaddr.IPv6).parts.slice(0, 4).map((p) => p.toString(16))
  return `${parts.join(":")}::/64`
}

/**
 * The client's address of a request. X-Forwarded-For is believed only when the connection comes from
 * one of `trustedProxies` (MPLP_TRUSTED_PROXIES, addresses or CIDRs): then the header is read from the
 * right, skipping the trusted proxies, and the first address that is not one is the client. Anyone can
 * send the header, so by default it is ignored and the socket's peer is the client.
 */
export const makeClientAddress = (trustedProxies: ReadonlyArray<string>) => {
  const ranges = trustedProxies.map((t): [Address, number] => {
    if (t.includes("/")) return ipaddr.parseCIDR(t)
    const a = ipaddr.parse(t)
    return [a, a.kind() === "ipv4" ? 32 : 128]
  })
  const trusted = (a: Address) => ranges.some(([net, bits]) => net.kind() === a.kind() && a.match(net, bits))
  return (peer: string | undefined, forwardedFor: string | undefined): string => {
    const socket = peer === undefined ? undefined : parse(peer)
    if (socket === undefined) return "unknown"
    let client = socket
    if (ranges.length > 0 && trusted(socket) && forwardedFor !== undefined) {
      const hops = forwardedFor.split(",").reverse()
      for (const hop of hops) {
        const a = parse(hop)
        if (a === undefined) break
        client = a
        if (!trusted(a)) break
      }
    }
    return identity(client)
  }
}
