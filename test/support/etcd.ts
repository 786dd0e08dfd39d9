/**
 * A single etcd member on loopback with a temp data dir, for tests and benchmarks: started by
 * `startEtcd`, killed and restarted on the same data (`restart`), removed by `stop`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Etcd3 } from 'etcd3'

export interface EtcdMember {
  /** The client URL, e.g. `http://127.0.0.1:23790`. */
  readonly endpoint: string
  /** A plain etcd3 client on the member (closed by `stop`). */
  readonly client: Etcd3
  /** Kills the member (SIGKILL) and waits for it to exit. */
  kill(): Promise<void>
  /** Starts it again on the same data dir and ports; resolves once it answers. */
  restart(): Promise<void>
  /** Stops the member and removes its data dir. */
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as net.AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/**
 * Starts a member; `args` are extra etcd flags (e.g. `--max-txn-ops=1024`). With `tls` the client
 * URL is `https://` and served with that certificate (which must also be its own CA).
 */
export async function startEtcd(
  args: readonly string[] = [],
  tls?: { readonly certFile: string; readonly keyFile: string },
): Promise<EtcdMember> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-etcd-'))
  const clientUrl = `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${await freePort()}`
  const peerUrl = `http://127.0.0.1:${await freePort()}`
  const argv = [
    '--name=test',
    `--data-dir=${dir}`,
    `--listen-client-urls=${clientUrl}`,
    `--advertise-client-urls=${clientUrl}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=test=${peerUrl}`,
    '--log-level=error',
    ...(tls === undefined ? [] : [`--cert-file=${tls.certFile}`, `--key-file=${tls.keyFile}`]),
    ...args,
  ]
  const client = new Etcd3({
    hosts: clientUrl,
    ...(tls === undefined ? {} : { credentials: { rootCertificate: readFileSync(tls.certFile) } }),
  })
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  let stderr = ''

  const launch = async (): Promise<void> => {
    let spawnError: Error | undefined
    const proc = spawn('etcd', argv, { stdio: ['ignore', 'ignore', 'pipe'] })
    child = proc
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')))
    exited = new Promise<void>((resolve) => {
      proc.once('exit', () => resolve())
      proc.once('error', (err) => {
        spawnError = err
        resolve()
      })
    })
    const deadline = Date.now() + 30_000
    for (;;) {
      try {
        await client.maintenance.status()
        return
      } catch (err) {
        if (spawnError !== undefined || Date.now() > deadline || proc.exitCode !== null) {
          throw new Error(`etcd did not start: ${spawnError?.message ?? stderr}`, { cause: err })
        }
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  }

  const kill = async (): Promise<void> => {
    child?.kill('SIGKILL')
    await exited
    child = undefined
  }

  try {
    await launch()
  } catch (err) {
    await kill()
    client.close()
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  return {
    endpoint: clientUrl,
    client,
    kill,
    restart: launch,
    stop: async () => {
      client.close()
      child?.kill('SIGTERM')
      await exited
      await rm(dir, { recursive: true, force: true })
    },
  }
}
