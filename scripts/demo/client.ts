// The native API, as the demo uses it: executions (start, progress, finish), metric points, and the
// reads it needs to pace its history. 429 and 503 are retried after their Retry-After.

export interface Started { readonly executionId: string; readonly traceId: string; readonly spanId: string; readonly traceparent: string }

export class ApiError extends Error {
  readonly status: number
  constructor(status: number, message: string) {
    super(message)
    this.status = status
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export const makeClient = (baseUrl: string, key: string) => {
  const request = async <A>(method: string, path: string, body?: unknown): Promise<A> => {
    for (let attempt = 1; ; attempt++) {
      const res = await fetch(`${baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
      if ((res.status === 429 || res.status === 503) && attempt < 6) {
        await res.body?.cancel()
        await sleep(Math.min(10, Number(res.headers.get("retry-after") ?? "1") || 1) * 1000)
        continue
      }
      const text = await res.text()
      if (res.status >= 400) {
        const message = (() => {
          try {
            return String((JSON.parse(text) as { message?: unknown }).message ?? text)
          } catch {
            return text
          }
        })()
        throw new ApiError(res.status, `${method} ${path}: ${res.status} ${message}`)
      }
      return (text === "" ? undefined : JSON.parse(text)) as A
    }
  }

  return {
    /** Fails with a 401/403 ApiError when the key cannot write and read. */
    check: () => request<unknown>("GET", "/api/executions?limit=1"),
    startExecution: (body: Record<string, unknown>) => request<Started>("POST", "/api/executions", body),
    update: (id: string, body: Record<string, unknown>) => request<unknown>("PATCH", `/api/executions/${id}`, body),
    finish: (id: string, body: Record<string, unknown>) => request<unknown>("POST", `/api/executions/${id}/finish`, body),
    postMetrics: (points: ReadonlyArray<Record<string, unknown>>) => request<unknown>("POST", "/api/metrics", { points }),
    /** Whether the trace is stored (an OTLP trace is an execution once its root span is). */
    hasExecution: (traceId: string) =>
      request<unknown>("GET", `/api/executions/${traceId}`).then(() => true, (e: unknown) => (e instanceof ApiError && e.status === 404 ? false : Promise.reject(e))),
    /** Whether the pipeline has closed windows of this span-derived series since `fromMs`. */
    hasWindows: (service: string, fromMs: number) =>
      request<{ series: ReadonlyArray<unknown> }>("GET", `/api/metrics/windows?name=responseTimeMs&service=${encodeURIComponent(service)}&from=${fromMs}&limit=1`)
        .then((v) => v.series.length > 0)
  }
}

export type Client = ReturnType<typeof makeClient>

/** Polls `f` until it answers true, or throws after `timeoutMs`. */
export const waitFor = async (what: string, f: () => Promise<boolean>, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`)
    await sleep(250)
  }
}
