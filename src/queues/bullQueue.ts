import { Queue } from "bullmq"
import type { QueueOptions } from "bullmq"

/**
 * A BullMQ queue that cannot crash the process. BullMQ re-emits its connection's errors as the queue's
 * 'error' event, and an EventEmitter's 'error' without a listener is thrown. Connection errors are the
 * ioredis client's to retry (see Redis.ts); a failed command rejects its own promise.
 */
export const openQueue = (name: string, options: QueueOptions): Queue => {
  const queue = new Queue(name, options)
  queue.on("error", () => {})
  return queue
}

/**
 * Closes a queue or a worker once its start (connecting, loading its scripts, reading the server's
 * version; a worker's blocking connection too) has settled. On a connection it was given, BullMQ's close
 * removes every listener of its connection objects at once, and a start still under way then fails
 * ("Connection is closed", when our client is quit) into an 'error' event or a rejection nobody handles:
 * `npm start` stopped soon after it started exited 1 that way (a queue), and a test's service closed a
 * second after its start left 2 unhandled rejections per ingest worker (CI).
 */
export const closeWhenStarted = (bull: { readonly waitUntilReady: () => Promise<unknown>; readonly close: () => Promise<void> }): Promise<void> =>
  bull.waitUntilReady().then(
    () => bull.close(),
    () => bull.close()
  )
