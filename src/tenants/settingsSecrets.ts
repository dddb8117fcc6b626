import { MASKED_SECRET } from "../alerting/channels.ts"
import { literalDestinationProblem } from "../alerting/destination.ts"
import { isSealed } from "../alerting/secretBox.ts"
import type { SecretBox } from "../alerting/secretBox.ts"
import { secretProblem } from "../alerting/signing.ts"
import type { TenantSettings } from "../domain/settings.ts"

// Webhook secrets in a settings document: write-only through the admin API, sealed at rest.

export interface Issue {
  readonly path: string
  readonly message: string
}

const mapSecrets = (settings: TenantSettings, f: (secret: string) => string): TenantSettings => ({
  ...settings,
  channels: settings.channels.map((c) => (c.type === "webhook" ? { ...c, secret: f(c.secret) } : c))
})

const storedSecret = (stored: TenantSettings | undefined, channelId: unknown): string | undefined => {
  const c = stored?.channels.find((x) => x.id === channelId)
  return c?.type === "webhook" ? c.secret : undefined
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** What the admin API answers: every webhook secret replaced by the marker. */
export const maskSecrets = (settings: TenantSettings): TenantSettings => mapSecrets(settings, () => MASKED_SECRET)

/** A document sent back with the marker keeps the stored secret of the channel with the same id. */
export const unmaskSecrets = (doc: unknown, stored: TenantSettings | undefined): { readonly doc: unknown; readonly issues: ReadonlyArray<Issue> } => {
  if (!isRecord(doc) || !Array.isArray(doc.channels)) return { doc, issues: [] }
  const issues: Array<Issue> = []
  const channels = doc.channels.map((c: unknown, i) => {
    if (!isRecord(c) || c.secret !== MASKED_SECRET) return c
    const secret = storedSecret(stored, c.id)
    if (secret !== undefined) return { ...c, secret }
    issues.push({ path: `channels.${i}.secret`, message: `"${MASKED_SECRET}" keeps a stored secret, but channel ${JSON.stringify(c.id)} has none: send the secret itself` })
    return c
  })
  return { doc: { ...doc, channels }, issues }
}

/**
 * What only a save can refuse (reading a stored document never does): a webhook URL whose host is a
 * literal non-public address, and a new secret too weak to sign with. A secret left as it was stored is
 * not judged again, so an older short secret does not block unrelated edits (or a 410 switching it off).
 */
export const saveIssues = (settings: TenantSettings, stored: TenantSettings | undefined, allowPrivate: boolean): ReadonlyArray<Issue> =>
  settings.channels.flatMap((c, i) => {
    if (c.type !== "webhook") return []
    const issues: Array<Issue> = []
    const urlProblem = allowPrivate ? undefined : literalDestinationProblem(c.url)
    if (urlProblem !== undefined) issues.push({ path: `channels.${i}.url`, message: urlProblem })
    if (c.secret !== storedSecret(stored, c.id)) {
      const problem = isSealed(c.secret) ? "must not start with mplp:enc: (the form of an encrypted secret)" : secretProblem(c.secret)
      if (problem !== undefined) issues.push({ path: `channels.${i}.secret`, message: problem })
    }
    return issues
  })

/** The stored form. A secret still sealed here is one this process could not open: it is kept as it was. */
export const sealSecrets = (settings: TenantSettings, box: SecretBox, tenantId: string): TenantSettings =>
  mapSecrets(settings, (s) => (isSealed(s) ? s : box.seal(s, tenantId)))

/** The service's view; a secret sealed with a key this process lacks stays sealed (delivery refuses it) and is counted. */
export const openSecrets = (settings: TenantSettings, box: SecretBox, tenantId: string): { readonly settings: TenantSettings; readonly unreadable: number } => {
  let unreadable = 0
  const opened = mapSecrets(settings, (s) => {
    const plain = box.open(s, tenantId)
    if (plain === undefined) unreadable++
    return plain ?? s
  })
  return { settings: opened, unreadable }
}

/** Whether any secret is stored otherwise than a save would store it now (plain text under a key, an older key). */
export const needsReseal = (settings: TenantSettings, box: SecretBox): boolean =>
  settings.channels.some((c) => c.type === "webhook" && !box.isCurrent(c.secret))
