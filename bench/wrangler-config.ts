/**
 * What the bench needs from wrangler.toml to run the gate as it deploys: its entry,
 * compatibility date and Durable Object bindings. Read from the file, not copied,
 * so a new Durable Object class or binding in the gate does not break the bench.
 * A deliberately small reader for the flat subset of TOML that file uses.
 */
import { readFileSync } from 'node:fs'

export interface DurableObjectBinding {
  binding: string
  className: string
}

export interface GateConfig {
  main: string
  compatibilityDate: string
  durableObjects: DurableObjectBinding[]
  /** Classes some migration declares SQLite-backed (`new_sqlite_classes`). */
  sqliteClasses: Set<string>
}

const strings = (value: string) =>
  [...value.matchAll(/"([^"]*)"/g)].map((match) => match[1] as string)

export function readWranglerToml(path: string): GateConfig {
  const sections: Array<{ header: string; entries: Map<string, string> }> = [
    { header: '', entries: new Map() },
  ]
  for (const raw of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const header = /^\[\[?([^\]]+)\]\]?/.exec(line)?.[1]
    if (header) {
      sections.push({ header, entries: new Map() })
      continue
    }
    const entry = /^([A-Za-z0-9_-]+)\s*=\s*(.*)$/.exec(line)
    if (entry) sections.at(-1)?.entries.set(entry[1] as string, entry[2] as string)
  }
  const top = sections[0]?.entries ?? new Map<string, string>()
  const first = (key: string) => {
    const value = strings(top.get(key) ?? '')[0]
    if (!value) throw new Error(`wrangler.toml: no ${key}`)
    return value
  }
  const durableObjects = sections
    .filter((section) => section.header === 'durable_objects.bindings')
    .map((section) => ({
      binding: strings(section.entries.get('name') ?? '')[0] ?? '',
      className: strings(section.entries.get('class_name') ?? '')[0] ?? '',
    }))
    .filter((binding) => binding.binding && binding.className)
  const sqliteClasses = new Set(
    sections
      .filter((section) => section.header === 'migrations')
      .flatMap((section) => strings(section.entries.get('new_sqlite_classes') ?? ''))
  )
  return {
    main: first('main'),
    compatibilityDate: first('compatibility_date'),
    durableObjects,
    sqliteClasses,
  }
}
