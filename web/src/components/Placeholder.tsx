/** A page still to be built: says what it will show, so the route exists and the nav is complete. */
export const Placeholder = ({ title, what }: { readonly title: string; readonly what: string }) => (
  <section className="page">
    <h1>{title}</h1>
    <p className="muted">This page is coming: {what}.</p>
  </section>
)
