/**
 * The baseline for blocking queries: a bare node:http server that holds every GET until a PUT
 * arrives, then answers all held GETs with the same status, headers and bytes vigil answered
 * (right after the PUT's own empty 200, as a write is acknowledged before its waiters wake).
 * Run as a child process:
 *   node dist/bench/bare-hold-server.js <port> <file with {status, headers, body(base64)}>
 */
import { readFileSync } from 'node:fs'
import { createServer, type ServerResponse } from 'node:http'

const [portArg, specFile] = process.argv.slice(2)
const spec = JSON.parse(readFileSync(specFile ?? '', 'utf8')) as {
  status: number
  headers: Record<string, string>
  body: string
}
const body = Buffer.from(spec.body, 'base64')
let held: ServerResponse[] = []
const server = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    if (req.method === 'GET' && req.url !== '/') {
      held.push(res)
      return
    }
    res.end()
    const wake = held
    held = []
    for (const r of wake) {
      r.writeHead(spec.status, { ...spec.headers, 'Content-Length': String(body.length) })
      r.end(body)
    }
  })
})
server.listen(Number(portArg), '127.0.0.1', () => {
  process.stdout.write('ready\n')
})
process.on('SIGTERM', () => {
  server.close()
  server.closeAllConnections()
})
