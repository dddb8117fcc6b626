import { Link } from "wouter"

export const NotFound = () => (
  <section className="page">
    <h1>Page not found</h1>
    <p>
      Nothing lives at this address. <Link href="/">Go to the overview</Link>.
    </p>
  </section>
)
