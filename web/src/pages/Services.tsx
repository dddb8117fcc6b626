import { Placeholder } from "../components/Placeholder.tsx"

export default function ServicesPage() {
  return <Placeholder title="Service map" what="services and the calls between them" />
}
