// Opens N chats on a running Streambed at once (`POST /api/chat`, one HTTP/1.1 connection
// each, as browsers behind a proxy), waits until every one has its first token, holds them open
// for HOLD seconds, then leaves. Used by scripts/memory-probe.sh to measure what an open stream
// costs the server.
//
//   node scripts/hold-streams.mjs http://127.0.0.1:4712 1000 8
import { setMaxListeners } from 'node:events';

const [url, n, hold] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const leave = new AbortController();
setMaxListeners(0, leave.signal);
const started = Date.now();
let open = 0;
const streams = Array.from({ length: n }, async () => {
  const response = await fetch(`${url}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"prompt":"bench"}',
    signal: leave.signal,
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let counted = false;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (!counted && decoder.decode(value).includes('"token"')) {
        counted = true;
        open += 1;
      }
    }
  } catch {
    // Aborted: the hold is over.
  }
});
while (open < n && Date.now() - started < 60_000) {
  await new Promise((resolve) => setTimeout(resolve, 100));
}
console.log(`open with a token: ${open}/${n} after ${Date.now() - started} ms; holding ${hold} s`);
await new Promise((resolve) => setTimeout(resolve, hold * 1000));
leave.abort();
await Promise.allSettled(streams);
