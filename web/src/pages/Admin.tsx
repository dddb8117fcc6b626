import { Placeholder } from "../components/Placeholder.tsx"

export default function AdminPage() {
  return <Placeholder title="Admin" what="tenants, keys, settings and channel tests (admin token)" />
}
