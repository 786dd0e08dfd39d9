/** The web UI settings, with the pre-1.9 top-level spellings (`ui`, `ui_dir`, `ui_content_path`). */
import type { AgentConfig } from '../agent-config.js'
import type { BuildContext } from './context.js'
import type { TreeReader } from './reader.js'

export function readUi(
  r: TreeReader,
  ctx: BuildContext,
): Pick<AgentConfig, 'uiEnabled' | 'uiDir' | 'uiContentPath'> {
  const { dev } = ctx
  const { problems } = ctx.report
  if (r.get('ui') !== undefined) r.deprecated('ui', 'ui_config.enabled')
  if (r.get('ui_dir') !== undefined) r.deprecated('ui_dir', 'ui_config.dir')
  if (r.get('ui_content_path') !== undefined) r.deprecated('ui_content_path', 'ui_config.content_path')
  const uiEnabled = r.optBool('ui_config.enabled') ?? r.optBool('ui') ?? false
  const uiDir = r.optStr('ui_config.dir') ?? r.str('ui_dir')
  const uiContentPath = normalizeContentPath(
    r.optStr('ui_config.content_path') ?? r.str('ui_content_path', '/ui/'),
  )
  if (!dev && uiEnabled && uiDir !== '') {
    problems.push(
      'Both the ui_config.enabled and ui_config.dir (or -ui and -ui-dir) were specified, please provide only one.\n' +
        'If trying to use your own web UI resources, use ui_config.dir or the -ui-dir flag.\n' +
        'The web UI is included in the binary so use ui_config.enabled or the -ui flag to enable it',
    )
  }
  return { uiEnabled, uiDir, uiContentPath }
}

function normalizeContentPath(path: string): string {
  let p = path.startsWith('/') ? path : `/${path}`
  if (!p.endsWith('/')) p += '/'
  return p
}
