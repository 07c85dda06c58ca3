// Sends N chats at once to a Streambed server, ROUNDS times, each read to its end; prints how
// many completed and how long each round took. Node's fetch, a connection per chat.
//
//   node scripts/burst.mjs http://127.0.0.1:4000 1000 3
//   node scripts/burst.mjs http://127.0.0.1:4000 1000 3 /tmp/ids.json   # stored turns
//
// With a fourth argument each chat is the first turn of a stored conversation, as in the
// bench's stored row. When that file does not exist yet, N conversations per round are created
// and their ids written to it, and nothing else is sent; when it does, round r's chats go to the
// r-th set of conversations, so that a timed run sends turns alone.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'

const [url, n, rounds, idsFile] = [
  process.argv[2],
  Number(process.argv[3] ?? 1000),
  Number(process.argv[4] ?? 3),
  process.argv[5],
]

async function create() {
  const sets = []
  for (let round = 0; round < rounds; round++) {
    const ids = []
    for (let i = 0; i < n; i++) {
      const response = await fetch(`${url}/api/conversations`, { method: 'POST' })
      const id = response.ok ? (await response.json()).id : undefined
      // Without an id the chat would go stateless, and the stored run measure the wrong thing.
      if (!id) throw new Error(`POST /api/conversations answered ${response.status}`)
      ids.push(id)
    }
    sets.push(ids)
  }
  writeFileSync(idsFile, JSON.stringify(sets))
}

async function chat(conversationId) {
  const response = await fetch(`${url}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'burst', conversationId }),
  })
  return (await response.text()).includes('event: done')
}

if (idsFile && !existsSync(idsFile)) {
  await create()
} else {
  const sets = idsFile ? JSON.parse(readFileSync(idsFile, 'utf8')) : [Array(n).fill(undefined)]
  for (let round = 1; round <= rounds; round++) {
    const started = performance.now()
    const done = (await Promise.all(sets[(round - 1) % sets.length].map(chat))).filter(Boolean).length
    console.log(`round ${round}: ${done}/${n} completed in ${(performance.now() - started).toFixed(0)} ms`)
  }
}
