import type { InterfaceTable } from '../network.js'
import type { LoadReport } from '../sources.js'

/** Host facts `loadConfig` reads; tests replace them. */
export interface LoadEnvironment {
  readonly hostname?: () => string
  readonly networkInterfaces?: () => InterfaceTable
}

/** What every section builder sees besides the tree; problems and warnings go to `report`. */
export interface BuildContext {
  readonly dev: boolean
  readonly configFiles: readonly string[]
  readonly report: LoadReport
  readonly env: LoadEnvironment
}
