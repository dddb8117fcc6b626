// The tenant key and the admin token, kept in sessionStorage only (gone when the tab closes; never
// in localStorage, a query string or a log line). A link `/#key=<key>` (or `#admin=<token>`) signs
// in and the fragment is removed from the address bar at once.

type Listener = () => void

const KEY = "mplp.key"
const ADMIN = "mplp.adminToken"

interface SessionState {
  readonly key: string | null
  readonly adminToken: string | null
  /** Why the user is looking at the sign-in form (a refused key), if not just arriving. */
  readonly message: string | null
  readonly adminMessage: string | null
}

const read = (k: string): string | null => {
  try {
    return sessionStorage.getItem(k)
  } catch {
    return null
  }
}

const write = (k: string, v: string | null) => {
  try {
    if (v === null) sessionStorage.removeItem(k)
    else sessionStorage.setItem(k, v)
  } catch {
    // Storage disabled: the session lasts as long as the page.
  }
}

let state: SessionState = { key: read(KEY), adminToken: read(ADMIN), message: null, adminMessage: null }
const listeners = new Set<Listener>()
const set = (next: Partial<SessionState>) => {
  state = { ...state, ...next }
  for (const l of listeners) l()
}

export const session = {
  subscribe: (l: Listener) => {
    listeners.add(l)
    return () => listeners.delete(l)
  },
  get: (): SessionState => state,
  signIn: (key: string) => {
    write(KEY, key)
    set({ key, message: null })
  },
  signOut: (message: string | null = null) => {
    write(KEY, null)
    set({ key: null, message })
  },
  setAdminToken: (token: string) => {
    write(ADMIN, token)
    set({ adminToken: token, adminMessage: null })
  },
  clearAdminToken: (message: string | null = null) => {
    write(ADMIN, null)
    set({ adminToken: null, adminMessage: message })
  }
}

/** Takes `#key=` / `#admin=` out of the address bar into the session. Call once, before rendering. */
export const adoptFragment = () => {
  const hash = window.location.hash
  if (!/^#(key|admin)=/.test(hash) && !hash.includes("&key=") && !hash.includes("&admin=")) return
  const params = new URLSearchParams(hash.slice(1))
  const key = params.get("key")
  const admin = params.get("admin")
  if (key !== null && key.trim() !== "") session.signIn(key.trim())
  if (admin !== null && admin.trim() !== "") session.setAdminToken(admin.trim())
  window.history.replaceState(window.history.state, "", window.location.pathname + window.location.search)
}
