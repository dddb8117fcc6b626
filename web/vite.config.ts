import { defineConfig } from "vite"

// The console: one HTML entry, hashed assets under /assets, nothing fetched from outside (no CDN).
// `npm run web:dev` serves it with the API proxied to a running `npm start` on :8080.
export default defineConfig({
  root: new URL(".", import.meta.url).pathname,
  base: "/",
  oxc: { jsx: { runtime: "automatic", importSource: "react" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
    rolldownOptions: {
      // React Query marks its modules "use client" for server components; meaningless in a SPA bundle.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning)
      }
    }
  },
  server: {
    proxy: Object.fromEntries(["/api", "/v1", "/healthz", "/readyz", "/openapi.json"].map((p) => [p, "http://localhost:8080"]))
  }
})
