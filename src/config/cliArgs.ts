/**
 * Runs a `node:util` `parseArgs` (strict: an unknown flag, a missing value or a stray argument is an
 * error, never silently ignored) and turns its failure into one line and the usage on stderr, exit 2.
 */
export const argsOrUsage = <A>(usage: string, parse: () => A): A => {
  try {
    return parse()
  } catch (e) {
    return usageError(usage, e instanceof Error ? e.message.split(". ")[0] ?? e.message : String(e))
  }
}

export const usageError = (usage: string, message: string): never => {
  process.stderr.write(`mplp-trace: ${message}\n${usage}\n`)
  process.exit(2)
}
