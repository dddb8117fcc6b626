import { Schema } from "effect"

// A tenant's notification channels as its settings hold them (src/domain/settings.ts); delivering to
// them is src/alerting/channels.ts.

const HttpUrl = Schema.String.pipe(
  Schema.filter(
    (s) => {
      if (!URL.canParse(s)) return "url must be a valid absolute URL"
      const { protocol } = new URL(s)
      return protocol === "http:" || protocol === "https:" || `url must use http or https, not ${protocol}`
    },
    { identifier: "HttpUrl" }
  )
)

const NonEmpty = (field: string) =>
  Schema.String.pipe(Schema.minLength(1, { message: () => `${field} must not be empty` }))

const Events = Schema.optional(Schema.Array(Schema.String))

/**
 * What the admin API shows instead of a webhook secret (secrets are write-only). A settings document
 * sent back with it keeps the channel's stored secret, so an editor can round-trip the document.
 */
export const MASKED_SECRET = "••••••(set)"

export const WebhookChannelSchema = Schema.Struct({
  id: NonEmpty("id"),
  type: Schema.Literal("webhook"),
  url: HttpUrl,
  secret: NonEmpty("secret").annotations({
    description: `Write-only: at least 24 bytes (a whsec_ value: base64 of them). Answered as "${MASKED_SECRET}"; sending that back keeps the stored secret.`
  }),
  events: Events,
  enabled: Schema.optional(Schema.Boolean)
}).annotations({ identifier: "WebhookChannel" })

export const LogChannelSchema = Schema.Struct({
  id: NonEmpty("id"),
  type: Schema.Literal("log"),
  events: Events
}).annotations({ identifier: "LogChannel" })

export const ChannelSchema = Schema.Union(WebhookChannelSchema, LogChannelSchema)

export type WebhookChannel = typeof WebhookChannelSchema.Type
export type LogChannel = typeof LogChannelSchema.Type
export type Channel = typeof ChannelSchema.Type
