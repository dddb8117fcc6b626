// The service's answer when it asks the console to slow down (429) or is unavailable (503, or not
// reachable): one banner for the whole console, shown until a request succeeds again.

export interface Trouble {
  readonly status: number
  readonly message: string
  /** When the console retries (epoch ms), from Retry-After or a back-off. */
  readonly retryAt: number
}

let trouble: Trouble | null = null
const listeners = new Set<() => void>()
const emit = () => {
  for (const l of listeners) l()
}

export const serviceStatus = {
  subscribe: (l: () => void) => {
    listeners.add(l)
    return () => listeners.delete(l)
  },
  get: (): Trouble | null => trouble,
  report: (t: Trouble) => {
    trouble = t
    emit()
  },
  /** A success: the banner goes once the retry it announced is due (other requests may still be waiting). */
  clear: (force = false) => {
    const t = trouble
    if (t === null) return
    const wait = force ? 0 : t.retryAt - Date.now()
    if (wait > 0) {
      // Unless another refusal replaces it meanwhile.
      setTimeout(() => trouble === t && serviceStatus.clear(true), wait)
      return
    }
    trouble = null
    emit()
  }
}
