// The baseline of the sidecar figures: a bare Node process that holds one `ws` connection, run
// by pm2 as the sidecar is (plain JavaScript, no loader). It connects to BARE_WS_URL and idles.
import WebSocket from 'ws'

const ws = new WebSocket(process.env.BARE_WS_URL)
ws.on('error', (err) => process.stderr.write(`bare client: ${err.message}\n`))
ws.on('close', () => process.exit(1))
process.once('SIGINT', () => process.exit(0))
