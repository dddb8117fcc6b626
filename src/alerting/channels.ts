import { Effect, Schema } from "effect"
import { deliverWebhook, type DeliveryResult, type DeliverWebhookOptions } from "./webhook.ts"

import { ChannelSchema, LogChannelSchema, MASKED_SECRET, WebhookChannelSchema } from "../domain/channels.ts"
import type { Channel, LogChannel, WebhookChannel } from "../domain/channels.ts"

export { ChannelSchema, LogChannelSchema, MASKED_SECRET, WebhookChannelSchema }
export type { Channel, LogChannel, WebhookChannel }

/** No `events` list means every event; a disabled channel (e.g. after a 410 Gone) wants none. */
export const wantsEvent = (channel: Channel, eventType: string): boolean =>
  !(channel.type === "webhook" && channel.enabled === false) &&
  (channel.events === undefined || channel.events.includes(eventType))

export const deliverLog = (input: {
  readonly tenantId: string
  readonly channel: LogChannel
  readonly messageId: string
  readonly payload: object
}): Effect.Effect<void> =>
  Effect.logInfo("alert notification", input.payload).pipe(
    Effect.annotateLogs({ tenantId: input.tenantId, channelId: input.channel.id, messageId: input.messageId })
  )

export type DeliverOptions<E, R> = Omit<DeliverWebhookOptions<E, R>, "channel"> & {
  readonly tenantId: string
  readonly channel: Channel
}

/** A log channel always "delivers" in one step and has no HTTP attempts to record. */
export const deliverToChannel = <E = never, R = never>(
  opts: DeliverOptions<E, R>
): Effect.Effect<DeliveryResult, E, R> => {
  const { channel, tenantId, ...rest } = opts
  return channel.type === "log"
    ? deliverLog({ tenantId, channel, messageId: opts.messageId, payload: opts.payload }).pipe(
        Effect.as<DeliveryResult>({ outcome: "delivered", attempts: [] })
      )
    : deliverWebhook({ ...rest, channel }).pipe(Effect.annotateLogs({ tenantId, channelId: channel.id }))
}
