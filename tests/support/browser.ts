import chromium from "@sparticuz/chromium"
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { chromium as playwright } from "playwright-core"
import type { Browser, Page } from "playwright-core"
import { ensureWebBuilt } from "../../scripts/buildWeb.ts"

// Headless Chromium for the console's browser tests and benchmark: the npm package
// @sparticuz/chromium (nothing to install besides `npm install`), or CHROMIUM_PATH (e.g. Debian's
// /usr/bin/chromium) when set.

/** Quiet on a machine without internet: no update checks, no sync, no first-run pages. */
const QUIET = ["--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync", "--lang=en-US"]
/**
 * Flags of the Lambda build left out: two would hide what a real browser enforces (same-origin, the
 * page's CSP), and in one process closing a context closes the whole browser.
 */
const DROPPED = new Set(["--disable-web-security", "--allow-running-insecure-content", "--single-process"])

export const launchBrowser = async (): Promise<Browser> => {
  const executablePath = process.env.CHROMIUM_PATH ?? (await chromium.executablePath())
  const args = [...chromium.args.filter((a) => !DROPPED.has(a)), ...QUIET]
  return playwright.launch({ executablePath, args, headless: true })
}

/**
 * A page in its own context: a fixed locale (the Lambda build's default, "en-US@posix", is not a
 * valid language tag and breaks Intl), and a zone away from UTC so times show a real offset.
 */
export const newPage = async (browser: Browser, options: { readonly colorScheme?: "light" | "dark"; readonly width?: number; readonly height?: number } = {}): Promise<Page> => {
  const context = await browser.newContext({
    locale: "en-US",
    timezoneId: "Europe/Berlin",
    colorScheme: options.colorScheme ?? "light",
    viewport: { width: options.width ?? 1400, height: options.height ?? 900 }
  })
  return context.newPage()
}

/** web/dist built from the current sources (a no-op when it already is). */
export const buildConsole = () => ensureWebBuilt({ log: () => {} })

export const SCREENSHOTS = fileURLToPath(new URL("../web/screenshots", import.meta.url))

/** A full-page PNG under tests/web/screenshots (git-ignored), for a person to look at. */
export const screenshot = async (page: Page, name: string) => {
  mkdirSync(SCREENSHOTS, { recursive: true })
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true })
}

/** Errors the page threw or logged, and requests the CSP refused: a test fails on any of them. */
export const watchPage = (page: Page) => {
  const problems: Array<string> = []
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`))
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of (401|403|404|429|503)/.test(m.text())) problems.push(`console: ${m.text()}`)
  })
  return problems
}
