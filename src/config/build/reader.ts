/**
 * Typed reads from a merged config tree: a value of the wrong type reads as absent (the schema
 * already reported it), and deprecated spellings are warned about once read.
 */
import type { ConfigDefinition } from '../agent-config.js'
import { isPlainObject, type Tree } from '../schema.js'

export class TreeReader {
  constructor(
    private readonly tree: Tree,
    private readonly warnings: string[],
  ) {}

  /** The value at a dotted path (`ports.http`), undefined when any step is missing. */
  get(path: string): unknown {
    let cur: unknown = this.tree
    for (const part of path.split('.')) cur = isPlainObject(cur) ? cur[part] : undefined
    return cur
  }

  str(path: string, def = ''): string {
    return this.optStr(path) ?? def
  }

  optStr(path: string): string | undefined {
    const v = this.get(path)
    return typeof v === 'string' ? v : undefined
  }

  bool(path: string, def = false): boolean {
    return this.optBool(path) ?? def
  }

  optBool(path: string): boolean | undefined {
    const v = this.get(path)
    return typeof v === 'boolean' ? v : undefined
  }

  num(path: string, def: number): number {
    const v = this.get(path)
    return typeof v === 'number' ? v : def
  }

  strs(path: string): string[] {
    const v = this.get(path)
    return Array.isArray(v) ? (v as string[]) : []
  }

  smap(path: string): Record<string, string> {
    const v = this.get(path)
    return isPlainObject(v) ? (v as Record<string, string>) : {}
  }

  definitions(path: string): ConfigDefinition[] {
    const v = this.get(path)
    return Array.isArray(v) ? (v as ConfigDefinition[]) : []
  }

  deprecated(oldKey: string, newKey: string): void {
    this.warnings.push(`The '${oldKey}' field is deprecated. Use the '${newKey}' field instead.`)
  }

  /** The new key's value, else the old key's (with a deprecation warning when the old one is set). */
  legacy(oldKey: string, newKey: string): string | undefined {
    const old = this.optStr(oldKey)
    if (old === undefined) return this.optStr(newKey)
    this.deprecated(oldKey, newKey)
    return this.optStr(newKey) ?? old
  }
}
