import { StrictMode } from "react"
import { createRoot } from "react-dom/client"
import { adoptFragment } from "./api/session.ts"
import { App } from "./App.tsx"
import "./styles.css"
import "./base.css"

adoptFragment()
createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>
)
