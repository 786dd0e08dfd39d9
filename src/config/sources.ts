/**
 * Config sources: reading `-config-file`/`-config-dir` paths and parsing JSON or HCL text into
 * normalized trees. Problems are collected, never thrown, so that a load reports all of them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { errorMessage } from '../lib/errors.js'
import type { ConfigDefinition } from './agent-config.js'
import { HclSyntaxError, parseHcl } from './hcl.js'
import { isPlainObject, normalizeSource, type NormalizeReport, type Tree } from './schema.js'

export type ConfigFormat = 'json' | 'hcl'

/** One parsed source, in precedence order. */
export interface Source {
  readonly name: string
  readonly tree: Tree
}

/** Collects problems and warnings across every source of one load. */
export interface LoadReport extends NormalizeReport {
  readonly warnings: string[]
}

export function newReport(): LoadReport {
  return { problems: [], ignored: new Set(), warnings: [] }
}

/** `json` for `*.json`, `hcl` for `*.hcl`, else undefined. */
export function formatFromExtension(path: string): ConfigFormat | undefined {
  if (path.endsWith('.json')) return 'json'
  if (path.endsWith('.hcl')) return 'hcl'
  return undefined
}

/**
 * Reads one `-config-file` or `-config-dir` argument: a file, or every `*.json`/`*.hcl` file
 * directly in a directory in name order (others are skipped with a warning). Returns the
 * sources and the file paths read.
 */
export function readConfigPath(
  path: string,
  format: ConfigFormat | undefined,
  report: LoadReport,
): { sources: Source[]; files: string[] } {
  let isDir: boolean
  try {
    isDir = statSync(path).isDirectory()
  } catch (err) {
    report.problems.push(`config: Open failed on ${path}. ${describeFsError(err, 'open', path)}`)
    return { sources: [], files: [] }
  }
  if (!isDir) {
    const fmt = format ?? formatFromExtension(path)
    if (fmt === undefined) {
      report.problems.push(
        `file ${path} has unknown extension; must be .hcl or .json, or config format must be set`,
      )
      return { sources: [], files: [] }
    }
    const source = readConfigFile(path, fmt, report)
    return { sources: source === undefined ? [] : [source], files: [path] }
  }
  let names: string[]
  try {
    names = readdirSync(path).sort()
  } catch (err) {
    report.problems.push(`config: Readdir failed on ${path}. ${describeFsError(err, 'readdir', path)}`)
    return { sources: [], files: [] }
  }
  const sources: Source[] = []
  const files: string[] = []
  for (const name of names) {
    const full = join(path, name)
    try {
      if (statSync(full).isDirectory()) continue
    } catch (err) {
      report.problems.push(`config: Stat failed on ${full}. ${describeFsError(err, 'stat', full)}`)
      continue
    }
    const fmt = format ?? formatFromExtension(full)
    if (fmt === undefined) {
      report.warnings.push(
        `skipping file ${full}, extension must be .hcl or .json, or config format must be set`,
      )
      continue
    }
    files.push(full)
    const source = readConfigFile(full, fmt, report)
    if (source !== undefined) sources.push(source)
  }
  return { sources, files }
}

function readConfigFile(path: string, format: ConfigFormat, report: LoadReport): Source | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    report.problems.push(`config: failed to read ${path}: ${describeFsError(err, 'read', path)}`)
    return undefined
  }
  return parseConfigText(text, format, path, report)
}

/** Parses and normalizes one document; undefined when it is empty or does not parse. */
export function parseConfigText(
  text: string,
  format: ConfigFormat,
  name: string,
  report: LoadReport,
): Source | undefined {
  if (text.trim() === '') return undefined
  let doc: unknown
  try {
    doc = format === 'json' ? JSON.parse(text) : parseHcl(text, name)
  } catch (err) {
    if (err instanceof HclSyntaxError) {
      report.problems.push(`failed to parse ${name}: At ${err.line}:${err.column}: ${err.detail}`)
    } else {
      report.problems.push(`failed to parse ${name}: ${jsonErrorDetail(err, text)}`)
    }
    return undefined
  }
  const tree = normalizeSource(doc, name, report)
  return { name, tree: patchDefinitions(tree) }
}

/** Service definitions whose `check` is a list (repeated HCL `check { }` blocks) get them as `checks`. */
function patchDefinitions(tree: Tree): Tree {
  const services = tree['services']
  if (!Array.isArray(services)) return tree
  const patched = (services as ConfigDefinition[]).map((d) => ({
    ...d,
    definition: foldCheckList(d.definition),
  }))
  return { ...tree, services: patched }
}

function foldCheckList(def: unknown): unknown {
  if (!isPlainObject(def)) return def
  const checkKey = Object.keys(def).find((k) => k.toLowerCase() === 'check')
  if (checkKey === undefined || !Array.isArray(def[checkKey])) return def
  const checksKey = Object.keys(def).find((k) => k.toLowerCase() === 'checks') ?? 'checks'
  const existing = def[checksKey]
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(def)) if (k !== checkKey) out[k] = v
  const folded: unknown[] = Array.isArray(existing) ? [...(existing as unknown[])] : []
  folded.push(...(def[checkKey] as unknown[]))
  out[checksKey] = folded
  return out
}

function jsonErrorDetail(err: unknown, text: string): string {
  const message = errorMessage(err)
  const pos = /at position (\d+)/.exec(message)
  if (pos === null || /\(line \d+ column \d+\)/.test(message)) return message
  const offset = Number(pos[1])
  const before = text.slice(0, offset)
  const line = before.split('\n').length
  const column = offset - before.lastIndexOf('\n')
  return `${message} (line ${line} column ${column})`
}

/** Go-style text for a file system error: `open <path>: no such file or directory`. */
export function describeFsError(err: unknown, op: string, path: string): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  const text: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    ENOTDIR: 'not a directory',
    EISDIR: 'is a directory',
  }
  const known = code === undefined ? undefined : text[code]
  return `${op} ${path}: ${known ?? errorMessage(err)}`
}
