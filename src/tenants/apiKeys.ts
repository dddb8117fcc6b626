import { createHash, randomBytes, timingSafeEqual } from "node:crypto"

// mplp_<12 hex id>_<43 chars base64url secret>: recognisable by secret scanners, looked up by id,
// verified by a SHA-256 of the whole key compared in constant time.
const KEY_RE = /^mplp_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/

export interface NewKey {
  readonly id: string
  readonly key: string
  readonly hash: Buffer
}

export const generateKey = (): NewKey => {
  const id = randomBytes(6).toString("hex")
  const key = `mplp_${id}_${randomBytes(32).toString("base64url")}`
  return { id, key, hash: hashKey(key) }
}

export const hashKey = (key: string): Buffer => createHash("sha256").update(key).digest()

/** The id part of a well-formed key, or undefined. */
export const keyIdOf = (key: string): string | undefined => KEY_RE.exec(key)?.[1]

export const matches = (key: string, storedHash: Uint8Array): boolean => {
  const h = hashKey(key)
  return storedHash.length === h.length && timingSafeEqual(h, storedHash)
}
