import { QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query"
import { Suspense } from "react"
import { matchRoute, Route, Switch, useLocation, useRouter } from "wouter"
import { ApiError } from "./api/client.ts"
import { ServiceBanner } from "./components/Banner.tsx"
import { Shell } from "./components/Shell.tsx"
import { useSession } from "./hooks/useSession.ts"
import { NotFound } from "./pages/NotFound.tsx"
import { SignIn } from "./pages/SignIn.tsx"
import { ROUTES } from "./routes.tsx"

const transient = (e: unknown) => e instanceof ApiError && e.transient

export const queryClient = new QueryClient({
  queryCache: new QueryCache(),
  defaultOptions: {
    queries: {
      staleTime: 2000,
      // 429/503/unreachable: keep trying at the pace the service asks for (the banner says so);
      // anything else is an answer to show, not to repeat.
      retry: (failures, e) => (transient(e) ? failures < 1000 : false),
      retryDelay: (failures, e) =>
        e instanceof ApiError && e.retryAfterSeconds !== null ? e.retryAfterSeconds * 1000 : Math.min(1000 * 2 ** failures, 15_000),
      refetchOnWindowFocus: true
    },
    mutations: { retry: false }
  }
})

const Pages = () => {
  const { key } = useSession()
  const [path] = useLocation()
  const { parser } = useRouter()
  const route = ROUTES.find((r) => matchRoute(parser, r.path, path)[0])
  // Admin pages ask for the admin token themselves; every other page needs a tenant key first.
  if (key === null && route?.needs !== "admin") return <SignIn />
  return (
    <Shell>
      <Suspense fallback={<p className="loading" role="status">Loading…</p>}>
        <Switch>
          {ROUTES.map((r) => (
            <Route key={r.path} path={r.path} component={r.page} />
          ))}
          <Route component={NotFound} />
        </Switch>
      </Suspense>
    </Shell>
  )
}

export const App = () => (
  <QueryClientProvider client={queryClient}>
    <ServiceBanner />
    <Pages />
  </QueryClientProvider>
)
