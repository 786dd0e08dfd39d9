/**
 * The baseline: a bare node:http server that answers every request with the same status,
 * headers and bytes that vigil sent for the endpoint under test. Run as a child process:
 *   node dist/bench/bare-server.js <port> <file with {status, headers, body(base64)}>
 */
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'

const [portArg, specFile] = process.argv.slice(2)
const spec = JSON.parse(readFileSync(specFile ?? '', 'utf8')) as {
  status: number
  headers: Record<string, string>
  body: string
}
const body = Buffer.from(spec.body, 'base64')
const server = createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    res.writeHead(spec.status, { ...spec.headers, 'Content-Length': String(body.length) })
    res.end(body)
  })
})
server.listen(Number(portArg), '127.0.0.1', () => {
  process.stdout.write('ready\n')
})
process.on('SIGTERM', () => {
  server.close()
  server.closeAllConnections()
})
