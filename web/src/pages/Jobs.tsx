import { Placeholder } from "../components/Placeholder.tsx"

export default function JobsPage() {
  return <Placeholder title="Jobs" what="the tenant's dead-lettered jobs with their reasons" />
}
