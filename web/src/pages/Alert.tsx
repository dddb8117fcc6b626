import { Placeholder } from "../components/Placeholder.tsx"

export default function AlertPage() {
  return <Placeholder title="Alert" what="why an alert fired, its notifications and deliveries" />
}
