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
 * Closes a queue once its start (connecting, loading its scripts, reading the server's version) has
 * settled. On a connection it was given, BullMQ's close removes every listener of the queue's connection
 * at once, and a start still under way then fails ("Connection is closed", when our client is quit) into
 * an 'error' event with no listener: `npm start` stopped soon after it started exited 1 that way.
 */
export const closeQueue = (queue: Queue): Promise<void> =>
  queue.waitUntilReady().then(
    () => queue.close(),
    () => queue.close()
  )
