/**
 * Templates are data plus files (C3's TemplateConfig): `templates/<folder>/template.json`
 * says what the template is and which folders of files make it, later folders
 * overriding earlier ones (`../shared` holds what every gate has in common).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { OriginMode } from './validate'

export interface TemplateConfig {
  /** The value of --template. */
  id: string
  /** Position in the menu. */
  order: number
  displayName: string
  description: string
  /** Folders of files, relative to the template's folder, copied in this order. */
  copyFiles: string[]
  origin: { question: string; default: string; mode: OriginMode }
  priceQuestion: string
  /** Absolute path of the template's folder. */
  dir: string
}

/** Every template under `templatesDir`, in menu order. */
export function loadTemplates(templatesDir: string): TemplateConfig[] {
  const templates = readdirSync(templatesDir, { withFileTypes: true })
    .filter(
      (entry) => entry.isDirectory() && existsSync(join(templatesDir, entry.name, 'template.json'))
    )
    .map((entry) => parseTemplate(join(templatesDir, entry.name)))
  if (templates.length === 0) throw new Error(`no templates in ${templatesDir}`)
  return templates.sort((a, b) => a.order - b.order)
}

// The files are ours, so a wrong one is a bug in this package: fail loudly, naming it.
function parseTemplate(dir: string): TemplateConfig {
  const file = join(dir, 'template.json')
  const data = JSON.parse(readFileSync(file, 'utf8')) as Partial<TemplateConfig>
  const origin = data.origin
  const valid =
    typeof data.id === 'string' &&
    typeof data.order === 'number' &&
    typeof data.displayName === 'string' &&
    typeof data.description === 'string' &&
    typeof data.priceQuestion === 'string' &&
    Array.isArray(data.copyFiles) &&
    data.copyFiles.every((folder) => existsSync(resolve(dir, folder))) &&
    origin !== undefined &&
    (origin.mode === 'endpoint' || origin.mode === 'base')
  if (!valid)
    throw new Error(`${file}: missing or wrong fields, or a copyFiles folder that does not exist`)
  return { ...(data as TemplateConfig), dir }
}
