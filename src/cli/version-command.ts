import { buildInfo } from '../config/build-info.js'
import type { FlagSet } from '../config/flags.js'
import type { Command } from './io.js'
import { runWithFlags } from './run.js'

const flagSet: FlagSet = {
  usageLine: 'vigil version',
  help: 'Prints the version of this vigil binary.',
  groups: [],
}

/** `vigil version`: version, revision, build date and protocol line, as `consul version`. */
export const versionCommand: Command = {
  synopsis: 'Prints the vigil version',
  run: (args, io) =>
    runWithFlags(flagSet, args, io, () => {
      io.stdout.write(versionText())
      return Promise.resolve(0)
    }),
}

export function versionText(): string {
  const info = buildInfo()
  const revision = info.revision === 'unknown' ? info.revision : info.revision.slice(0, 8)
  return [
    `vigil v${info.version}`,
    `Revision ${revision}`,
    `Build Date ${info.buildDate}`,
    'Protocol 2 spoken by default, understands 2 to 3 (agent will automatically use protocol >2 when speaking to compatible agents)',
    '',
  ].join('\n')
}
