import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto"

/**
 * Webhook secrets at rest: `mplp:enc:v1:<key id>:<iv>:<ciphertext>:<tag>` (base64url parts),
 * AES-256-GCM with a random 96-bit IV per secret and the tenant id as associated data, so a sealed
 * value copied into another tenant's document does not open. The key id (first 8 hex digits of the
 * key's SHA-256) picks the key among the current and previous ones, which is what makes rotation work.
 */
const SEALED = "mplp:enc:"
const V1 = `${SEALED}v1:`

export const isSealed = (stored: string): boolean => stored.startsWith(SEALED)

export const keyId = (key: Uint8Array): string => createHash("sha256").update(key).digest("hex").slice(0, 8)

export interface SecretBox {
  /** The stored form of a secret: sealed with the current key, or the plain text when there is none. */
  readonly seal: (plain: string, context: string) => string
  /** The plain text of a stored secret; undefined when it is sealed with a key this process lacks (or damaged). */
  readonly open: (stored: string, context: string) => string | undefined
  /** Whether `seal` would store it this way now (false: plain text under a key, or an older key). */
  readonly isCurrent: (stored: string) => boolean
}

export const makeSecretBox = (current: Uint8Array | undefined, previous: ReadonlyArray<Uint8Array> = []): SecretBox => {
  const keys = new Map<string, Uint8Array>()
  for (const k of [...previous, ...(current === undefined ? [] : [current])]) keys.set(keyId(k), k)
  const currentId = current === undefined ? undefined : keyId(current)

  const seal = (plain: string, context: string): string => {
    if (current === undefined || currentId === undefined) return plain
    const iv = randomBytes(12)
    const cipher = createCipheriv("aes-256-gcm", current, iv)
    cipher.setAAD(Buffer.from(context, "utf8"))
    const ciphertext = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()])
    return `${V1}${currentId}:${[iv, ciphertext, cipher.getAuthTag()].map((b) => b.toString("base64url")).join(":")}`
  }

  const open = (stored: string, context: string): string | undefined => {
    if (!isSealed(stored)) return stored
    if (!stored.startsWith(V1)) return undefined
    const [kid = "", iv = "", ciphertext = "", tag = ""] = stored.slice(V1.length).split(":")
    const key = keys.get(kid)
    if (key === undefined) return undefined
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"), { authTagLength: 16 })
      decipher.setAAD(Buffer.from(context, "utf8"))
      decipher.setAuthTag(Buffer.from(tag, "base64url"))
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64url")), decipher.final()]).toString("utf8")
    } catch {
      return undefined
    }
  }

  const isCurrent = (stored: string): boolean =>
    currentId === undefined ? !isSealed(stored) : stored.startsWith(`${V1}${currentId}:`)

  return { seal, open, isCurrent }
}
