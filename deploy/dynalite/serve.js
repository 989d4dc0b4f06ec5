#!/usr/bin/env node
// serve.js --port N [--host 127.0.0.1] [--tls-key FILE --tls-cert FILE] [--table-ms N] [--verbose]
//
// Starts dynalite (an in-memory DynamoDB look-alike) for the ddbguard quickstart and tests.
// Plain HTTP by default; with --tls-key/--tls-cert it serves HTTPS with that key pair, since the
// certificate bundled with dynalite has expired. Binds loopback unless --host says otherwise.
// --table-ms sets how long tables stay CREATING/UPDATING/DELETING (dynalite's default: 500 ms; tests use 0).
// Prints "listening on http(s)://HOST:PORT" once the socket is bound, and exits 0 on SIGTERM/SIGINT.
'use strict'

const fs = require('fs')
const dynalite = require('dynalite')

function usage (msg) {
  if (msg) console.error('serve.js: ' + msg)
  console.error('usage: node serve.js --port N [--host 127.0.0.1] [--tls-key FILE --tls-cert FILE] [--table-ms N] [--verbose]')
  process.exit(2)
}

const opts = { port: null, host: '127.0.0.1', key: null, cert: null, tableMs: null, verbose: false }
const argv = process.argv.slice(2)
for (let i = 0; i < argv.length; i++) {
  const a = argv[i]
  const next = () => {
    if (i + 1 >= argv.length) usage(a + ' needs a value')
    return argv[++i]
  }
  switch (a) {
    case '--port': opts.port = next(); break
    case '--host': opts.host = next(); break
    case '--tls-key': opts.key = next(); break
    case '--tls-cert': opts.cert = next(); break
    case '--table-ms': opts.tableMs = next(); break
    case '--verbose': opts.verbose = true; break
    case '-h': case '--help': usage()
    // falls through (usage exits)
    default: usage('unknown argument ' + a)
  }
}
const port = Number(opts.port)
if (!Number.isInteger(port) || port < 0 || port > 65535) usage('--port must be an integer 0..65535')
if (!!opts.key !== !!opts.cert) usage('--tls-key and --tls-cert go together')

const serverOpts = { verbose: opts.verbose }
if (opts.tableMs !== null) {
  const ms = Number(opts.tableMs)
  if (!Number.isInteger(ms) || ms < 0) usage('--table-ms must be an integer >= 0')
  serverOpts.createTableMs = serverOpts.updateTableMs = serverOpts.deleteTableMs = ms
}
if (opts.key) {
  try {
    serverOpts.ssl = true
    serverOpts.key = fs.readFileSync(opts.key)
    serverOpts.cert = fs.readFileSync(opts.cert)
    // dynalite would otherwise add its own (expired) CA as the client-certificate CA list.
    serverOpts.ca = serverOpts.cert
  } catch (e) {
    console.error('serve.js: cannot read TLS files: ' + e.message)
    process.exit(1)
  }
}

const server = dynalite(serverOpts)
const scheme = opts.key ? 'https' : 'http'

server.on('error', (e) => {
  console.error('serve.js: ' + e.message)
  process.exit(1)
})

server.listen(port, opts.host, () => {
  const addr = server.address()
  const host = addr.family === 'IPv6' ? '[' + addr.address + ']' : addr.address
  console.log('listening on ' + scheme + '://' + host + ':' + addr.port)
})

// Everything lives in memory, so there is nothing to flush: stop accepting, drop keep-alive
// connections and exit. dynalite's own close() waits up to 30 s for idle clients, which is too long.
let stopping = false
function stop (sig) {
  if (stopping) return
  stopping = true
  console.log('serve.js: ' + sig + ', stopping')
  if (typeof server.closeAllConnections === 'function') server.closeAllConnections()
  setTimeout(() => process.exit(0), 200).unref()
  server.close(() => process.exit(0))
}
process.on('SIGTERM', () => stop('SIGTERM'))
process.on('SIGINT', () => stop('SIGINT'))
