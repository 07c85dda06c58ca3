/** A list item's marker at the start of a line: `-`, `*`, `+`, `1.` or `1)`. */
const LIST_ITEM = /^ {0,3}(?:[-*+]|\d{1,9}[.)])(?:\s|$)/

/** An ordered item of a list at the left margin: its number and its delimiter. */
const ORDERED_ITEM = /^(\d{1,9})([.)])(?=\s|$)/

/**
 * A link reference or footnote definition (`[id]: https://…`, `[^1]: …`) outside code: it serves
 * the whole answer, so an answer with one is parsed whole.
 */
const DEFINITION = /^ {0,3}\[[^\]\n]+\]:/

/**
 * Splits markdown into top-level blocks at blank lines outside code fences. While an answer
 * streams, only its last block changes, so earlier blocks keep their parsed, rendered form
 * instead of being re-parsed on every frame.
 *
 * While it streams (`settled` false), a loose list (its items apart by blank lines) is a block
 * per item, so a long list costs one item's parse per frame, not the whole list's: an item keeps
 * what is indented under it past a blank line (its paragraphs, its code), and the items of an
 * ordered list are numbered on from one block to the next, as one list numbers them (a model
 * often writes `1.` for each). Once the answer has settled, a list is one block, parsed once, so
 * it is one list to a screen reader ("list, 3 items"), not three lists of one. An answer with a
 * link reference or footnote definition is one block, as its references may be anywhere.
 */
export function splitBlocks(markdown: string, settled = false): string[] {
  const blocks: string[] = []
  let current: string[] = []
  let fence: string | null = null
  /** Whether the block has a list item outside a fence: an item may go on past a blank line. */
  let list = false
  /** The number of the ordered list's next item, while the list may go on, and its delimiter. */
  let next: number | null = null
  let delimiter = '.'
  /** Blank lines outside a fence since the last line of text, not yet known to end the block. */
  let blanks = 0
  for (let line of markdown.split('\n')) {
    if (fence === null && line.trim() === '') {
      if (current.length > 0) blanks++
      continue
    }
    if (blanks > 0) {
      const goesOn = /^\s/.test(line) || (settled && fence === null && LIST_ITEM.test(line))
      if (list && goesOn) current.push(...Array<string>(blanks).fill(''))
      else {
        blocks.push(current.join('\n'))
        current = []
        // Only its next item goes on with a list.
        if (!(list && LIST_ITEM.test(line))) next = null
        list = false
      }
      blanks = 0
    }
    const marker = /^\s*(```+|~~~+)/.exec(line)?.[1]
    if (marker) {
      if (fence === null) fence = marker
      else if (marker.startsWith(fence)) fence = null
    } else if (fence === null && LIST_ITEM.test(line)) {
      const [, number, itsDelimiter] = ORDERED_ITEM.exec(line) ?? []
      // Another delimiter (`1)` after `1.`) starts another list, as a bullet at the margin does.
      if (number === undefined || itsDelimiter === undefined) {
        if (!/^\s/.test(line)) next = null
      } else if (current.length === 0 && next !== null && itsDelimiter === delimiter) {
        line = `${next}${line.slice(number.length)}` // this block goes on with the list
        next++
      } else {
        next = list && next !== null && itsDelimiter === delimiter ? next + 1 : Number(number) + 1
        delimiter = itsDelimiter
      }
      list = true
    } else if (fence === null && DEFINITION.test(line)) {
      return [markdown.trim()]
    }
    current.push(line)
  }
  if (current.length > 0) blocks.push(current.join('\n'))
  return blocks
}

/** Paragraphs longer than this are parsed in sentence-aligned pieces of about this size. */
export const SEGMENT_CHARS = 2000

/** A line that could start or continue something other than paragraph text. */
const BLOCK_SYNTAX = /^(?: {4}|\t| {0,3}(?:[#>*+=|`~-]|\d+[.)]))/

/**
 * Text that, at the start of a piece parsed on its own, would open a block instead of going on
 * as the paragraph's text: a list item, heading, quote, table, code, thematic break, HTML block
 * or link reference definition. No piece may start with it.
 */
const BLOCK_START = /^(?: {4}|\t| {0,3}(?:[#>*+=|`~_<[-]|\d+[.)]))/

function startsBlock(block: string, at: number): boolean {
  return BLOCK_START.test(block.slice(at, at + 16))
}

/** Inline delimiters whose spans must not be cut: code, emphasis, strikethrough, links. */
const PAIRED = new Set(['`', '*', '_', '~'])

/**
 * Splits one long plain paragraph into pieces that parse, one by one, to the same inline
 * content as the whole: cuts fall after a sentence end (`.`, `!`, `?` then whitespace), or at
 * any single space once a piece is twice the target size (text without punctuation), and only
 * where every inline delimiter seen so far is closed and the next piece does not start with
 * block syntax (`- `, `1. `, `# `, `> `, `|`, …), which on its own would parse as a list,
 * heading, quote or table instead of text. A streaming 150 KB paragraph then costs
 * one ~2 KB parse per frame instead of re-parsing all of it. Anything that is not a plain
 * paragraph (lists, headings, tables, quotes, code) is returned whole.
 */
export function splitParagraph(block: string): string[] {
  const html = /^ {0,3}</.test(block) // perhaps an HTML block, shown whole as code (see `Markdown`)
  const blocks = /\n\s*\n/.test(block) // several blocks parsed together (see `splitBlocks`)
  if (block.length <= SEGMENT_CHARS || html || blocks || block.split('\n').some((line) => BLOCK_SYNTAX.test(line))) {
    return [block]
  }
  const segments: string[] = []
  /** Delimiters seen an odd number of times so far: a span of that kind is open. */
  const open = new Set<string>()
  let brackets = 0
  let start = 0
  for (let i = 0; i < block.length - 1; i++) {
    const c = block[i]!
    if (c === '\\') {
      i++ // an escaped character delimits nothing
    } else if (PAIRED.has(c)) {
      if (!open.delete(c)) open.add(c)
    } else if (c === '[' || c === '(') {
      brackets++
    } else if (c === ']' || c === ')') {
      brackets = Math.max(0, brackets - 1) // a stray ")" (a smiley) must not block every later cut
    } else if (brackets === 0 && open.size === 0) {
      const sentenceEnd = (c === '.' || c === '!' || c === '?') && /\s/.test(block[i + 1]!)
      if (sentenceEnd && i + 1 - start >= SEGMENT_CHARS && !startsBlock(block, i + 2)) {
        segments.push(block.slice(start, i + 1))
        start = i + 2
      } else if (
        c === ' ' &&
        block[i - 1] !== ' ' &&
        block[i + 1] !== ' ' &&
        i - start >= 2 * SEGMENT_CHARS &&
        !startsBlock(block, i + 1)
      ) {
        segments.push(block.slice(start, i))
        start = i + 1
      }
    }
  }
  segments.push(block.slice(start))
  return segments
}
