// A plain y-websocket client: connects to one document, prints its state as JSON,
// optionally makes one change, and reports how the server answered.
// Usage: node client.mjs <server-url> <document> <token> [set-key set-value | --append-log JSON]
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import WebSocket from 'ws'

const [url, room, token, setKey, setValue] = process.argv.slice(2)
const doc = new Y.Doc()
const provider = new WebsocketProvider(url, room, doc, {
  WebSocketPolyfill: WebSocket,
  params: { token },
  disableBc: true,
  maxBackoffTime: 200,
})
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
let done = false
provider.on('connection-close', (event) => {
  if (done) return
  done = true
  out({ event: 'close', code: event ? event.code : null, reason: event ? event.reason : null })
  process.exit(0)
})
provider.on('sync', (synced) => {
  if (!synced) return
  out({ event: 'synced', state: doc.toJSON ? Object.fromEntries(['settings', 'rooms', 'sessions', 'log'].map((k) => [k, k === 'log' ? doc.getArray(k).toJSON() : doc.getMap(k).toJSON()])) : null })
  if (setKey === '--append-log') {
    doc.getArray('log').push([JSON.parse(setValue)])
    out({ event: 'appended' })
  } else if (setKey) {
    doc.getMap('settings').set(setKey, setValue)
    out({ event: 'changed', key: setKey })
  }
  setTimeout(() => { done = true; out({ event: 'done' }); process.exit(0) }, 1500)
})
setTimeout(() => { out({ event: 'timeout' }); process.exit(2) }, 10000)
