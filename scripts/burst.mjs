// Sends N chats at once to a Streambed server, ROUNDS times, each read to its end; prints how
// many completed and how long each round took. Node's fetch, a connection per chat.
//
//   node scripts/burst.mjs http://127.0.0.1:4000 1000 3
const [url, n, rounds] = [process.argv[2], Number(process.argv[3] ?? 1000), Number(process.argv[4] ?? 3)]

async function chat() {
  const response = await fetch(`${url}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ prompt: 'burst' }),
  })
  return (await response.text()).includes('event: done')
}

for (let round = 1; round <= rounds; round++) {
  const started = performance.now()
  const done = (await Promise.all(Array.from({ length: n }, chat))).filter(Boolean).length
  console.log(`round ${round}: ${done}/${n} completed in ${(performance.now() - started).toFixed(0)} ms`)
}
