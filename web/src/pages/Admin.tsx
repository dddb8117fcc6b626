import { useQuery, useQueryClient } from "@tanstack/react-query"
import { api } from "../api/client.ts"
import { session } from "../api/session.ts"
import { AdminSignIn } from "../components/admin/AdminSignIn.tsx"
import { ChannelTests } from "../components/admin/ChannelTests.tsx"
import { Keys } from "../components/admin/Keys.tsx"
import { SettingsEditor } from "../components/admin/SettingsEditor.tsx"
import { Tenants } from "../components/admin/Tenants.tsx"
import { ErrorBox } from "../components/Banner.tsx"
import { useSession } from "../hooks/useSession.ts"
import { useParam, useSetParams } from "../hooks/useUrlState.ts"
import { formatDateTime } from "../lib/format.ts"
import "./pages.css"

const TABS = [
  { id: "keys", label: "Keys" },
  { id: "settings", label: "Settings" },
  { id: "channels", label: "Channels" }
] as const
type Tab = (typeof TABS)[number]["id"]

const TenantPanel = ({ id }: { readonly id: string }) => {
  const setParams = useSetParams()
  const tabParam = useParam("tab")
  const tab: Tab = TABS.find((t) => t.id === tabParam)?.id ?? "keys"
  const tenant = useQuery({ queryKey: ["admin", "tenant", id], queryFn: () => api.admin.tenant(id) })
  if (tenant.error !== null) return <ErrorBox error={tenant.error} />
  const t = tenant.data
  return (
    <section className="card stack" aria-labelledby="tenant-title" data-tenant-panel={id}>
      <div>
        <h2 id="tenant-title">
          {t?.name ?? id} {t !== undefined && t.name !== t.id && <span className="muted mono">{t.id}</span>}
        </h2>
        {t !== undefined && (
          <p className="muted">
            created {formatDateTime(Date.parse(t.createdAt))} · settings from {t.settingsSource}
          </p>
        )}
      </div>
      <div className="tabs" role="tablist" aria-label="Tenant">
        {TABS.map((x) => (
          <button
            key={x.id}
            type="button"
            role="tab"
            id={`tab-${x.id}`}
            aria-selected={x.id === tab}
            aria-controls={`panel-${x.id}`}
            onClick={() => setParams({ tab: x.id === "keys" ? null : x.id, mode: null })}
          >
            {x.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {tab === "keys" && <Keys tenant={id} />}
        {tab === "settings" && <SettingsEditor key={id} tenant={id} />}
        {tab === "channels" && <ChannelTests tenant={id} />}
      </div>
    </section>
  )
}

export default function AdminPage() {
  const { adminToken } = useSession()
  const client = useQueryClient()
  const tenant = useParam("tenant")
  const setParams = useSetParams()
  if (adminToken === null) return <AdminSignIn />
  return (
    <section className="page" aria-labelledby="admin-title">
      <div className="page-head">
        <h1 id="admin-title">Admin</h1>
        <p className="muted">Tenants, their keys and settings</p>
        <button
          type="button"
          className="quiet"
          onClick={() => {
            session.clearAdminToken()
            client.removeQueries({ queryKey: ["admin"] })
          }}
        >
          Forget the admin token
        </button>
      </div>
      <div className="admin">
        <Tenants selected={tenant} onCreated={(id) => setParams({ tenant: id, tab: null, mode: null })} />
        {tenant === null ? (
          <div className="card">
            <p className="muted">Choose a tenant to see its keys, settings and channels.</p>
          </div>
        ) : (
          <TenantPanel key={tenant} id={tenant} />
        )}
      </div>
    </section>
  )
}
