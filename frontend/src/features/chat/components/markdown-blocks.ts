/**
 * Splits markdown into top-level blocks at blank lines outside code fences. While an answer
 * streams, only its last block changes, so earlier blocks keep their parsed, rendered form
 * instead of being re-parsed on every frame.
 */
export function splitBlocks(markdown: string): string[] {
  const blocks: string[] = []
  let current: string[] = []
  let fence: string | null = null
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(```+|~~~+)/.exec(line)?.[1]
    if (marker) {
      if (fence === null) fence = marker
      else if (marker.startsWith(fence)) fence = null
    }
    if (fence === null && line.trim() === '' && current.length > 0) {
      blocks.push(current.join('\n'))
      current = []
    } else if (fence !== null || line.trim() !== '') {
      current.push(line)
    }
  }
  if (current.length > 0) blocks.push(current.join('\n'))
  return blocks
}
