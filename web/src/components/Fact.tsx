import type { ReactNode } from "react"

/** One term and its value of a `dl.facts`: kept together, so a wrapping line never parts them. */
export const Fact = ({ term, className, children }: { readonly term: string; readonly className?: string; readonly children: ReactNode }) => (
  <div className="fact">
    <dt>{term}</dt>
    <dd className={className}>{children}</dd>
  </div>
)
