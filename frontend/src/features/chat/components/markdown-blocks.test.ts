import { SEGMENT_CHARS, splitBlocks, splitParagraph } from './markdown-blocks'

describe('splitBlocks', () => {
  it('splits at blank lines', () => {
    expect(splitBlocks('# Title\n\nOne\ntwo\n\n\n- a\n- b')).toEqual(['# Title', 'One\ntwo', '- a\n- b'])
  })

  it('keeps a code fence with blank lines in one block, even while it is still open', () => {
    expect(splitBlocks('Intro\n\n```py\na = 1\n\nb = 2\n```\n\nAfter')).toEqual(['Intro', '```py\na = 1\n\nb = 2\n```', 'After'])
    expect(splitBlocks('```\nopen\n\nstill open')).toEqual(['```\nopen\n\nstill open'])
  })
})

describe('splitBlocks and lists', () => {
  it('gives a loose list a block per item, each keeping its indented paragraphs and code', () => {
    const list = '1. Install.\n\n    Continuation paragraph.\n\n1. Configure:\n\n    ```sh\n    run\n\n    more\n    ```\n\n1. Done.'

    expect(splitBlocks(`Steps:\n\n${list}\n\nAfter the list.`)).toEqual([
      'Steps:',
      '1. Install.\n\n    Continuation paragraph.',
      '2. Configure:\n\n    ```sh\n    run\n\n    more\n    ```',
      '3. Done.',
      'After the list.',
    ])
    expect(splitBlocks('Steps:\n- a\n\n  more of a\n- b')).toEqual(['Steps:\n- a\n\n  more of a\n- b'])
  })

  it('numbers an ordered list on from block to block, from its first number, and only that list', () => {
    expect(splitBlocks('3. c\n4. d\n\n9. e\n\n- x\n\n1. new')).toEqual(['3. c\n4. d', '5. e', '- x', '1. new'])
    expect(splitBlocks('1) a\n\n1) b\n\nText\n\n1) c')).toEqual(['1) a', '2) b', 'Text', '1) c'])
    expect(splitBlocks('1. a\n   1. nested\n   1. nested\n\n1. b')).toEqual(['1. a\n   1. nested\n   1. nested', '2. b'])
    // `1)` after `1.` is another list, as CommonMark has it.
    expect(splitBlocks('1. a\n\n2. b\n\n1) c\n\n2) d')).toEqual(['1. a', '2. b', '1) c', '2) d'])
  })

  it('keeps a settled answer\'s loose list in one block, one list with all its items', () => {
    const answer = 'Steps:\n\n1. Install.\n\n    More.\n\n1. Run.\n\n- other\n\nAfter.'

    expect(splitBlocks(answer, true)).toEqual(['Steps:', '1. Install.\n\n    More.\n\n1. Run.\n\n- other', 'After.'])
    expect(splitBlocks('```\n- a\n\n- b\n```\n\n- c', true)).toEqual(['```\n- a\n\n- b\n```', '- c'])
  })

  it('ends a list at a line that is neither indented nor an item, and never reads a list in a fence', () => {
    expect(splitBlocks('- a\n\nText\n\n    code')).toEqual(['- a', 'Text', '    code'])
    expect(splitBlocks('```\n- not a list\n```\n\n  indented')).toEqual(['```\n- not a list\n```', '  indented'])
  })

  it('parses an answer with link reference or footnote definitions whole', () => {
    const text = 'See [the docs][docs].\n\nA claim.[^1]\n\n[docs]: https://example.com\n[^1]: The source.'

    expect(splitBlocks(`${text}\n\n`)).toEqual([text])
  })

  it('reads no definition in code: a log line such as `[INFO]: started` in a fence splits as ever', () => {
    expect(splitBlocks('Log:\n\n```\n[INFO]: started\n```\n\nDone.')).toEqual(['Log:', '```\n[INFO]: started\n```', 'Done.'])
  })
})

describe('splitParagraph', () => {
  const sentence = (n: number) => `Sentence ${n} has **bold**, \`code\`, a [link](https://example.com/a_b) and snake_case_words. `
  const long = Array.from({ length: 200 }, (_, n) => sentence(n)).join('').trim()

  it('cuts a long paragraph after sentences, about every SEGMENT_CHARS, losing nothing but the joining space', () => {
    const segments = splitParagraph(long)

    expect(segments.length).toBeGreaterThan(5)
    expect(segments.join(' ')).toBe(long)
    for (const segment of segments.slice(0, -1)) {
      expect(segment.length).toBeGreaterThanOrEqual(SEGMENT_CHARS)
      expect(segment.length).toBeLessThan(SEGMENT_CHARS + 200)
      expect(segment.endsWith('.')).toBe(true)
    }
  })

  it('never cuts inside emphasis, code or a link', () => {
    const text = `${'a'.repeat(SEGMENT_CHARS)} *still. emphasised* and \`code. span\` and [a. link](x) end. tail`

    const segments = splitParagraph(text)

    expect(segments).toEqual([`${'a'.repeat(SEGMENT_CHARS)} *still. emphasised* and \`code. span\` and [a. link](x) end.`, 'tail'])
  })

  it('cuts text without sentences at single spaces, rejoining exactly', () => {
    const words = Array.from({ length: 3000 }, (_, n) => `lorem${n}`).join(' ')

    const segments = splitParagraph(words)

    expect(segments.length).toBeGreaterThan(5)
    expect(segments.join(' ')).toBe(words)
    expect(segments.every((s) => !s.startsWith(' ') && !s.endsWith(' '))).toBe(true)
  })

  it('leaves short paragraphs and other blocks whole', () => {
    expect(splitParagraph('Short. Paragraph.')).toEqual(['Short. Paragraph.'])
    const paragraphs = `${long}\n\n${long}`
    expect(splitParagraph(paragraphs)).toEqual([paragraphs])
    const list = `- ${long}`
    expect(splitParagraph(list)).toEqual([list])
    const quote = `text\n> ${long}`
    expect(splitParagraph(quote)).toEqual([quote])
  })

  it.each([
    ['a bullet', '- item'],
    ['a plus bullet', '+ item'],
    ['a star bullet', '* item'],
    ['an ordered item', '1. item'],
    ['an ordered item with a parenthesis', '2) item'],
    ['a heading', '# Heading'],
    ['a quote', '> quoted'],
    ['a table row', '| a | b |'],
    ['a thematic break', '___'],
    ['a setext underline', '=== x'],
    ['a code fence', '```js'],
    ['an HTML block', '<div>x</div>'],
    ['a link reference definition', '[ref]: https://example.com'],
  ])('never cuts where the next piece would start with %s', (_, syntax) => {
    // Every sentence ends right before the block syntax, so each natural cut point is one
    // that must be skipped; the text goes on after it, so a later cut is still possible.
    const sentence = (n: number) => `Words ${n} ${'x'.repeat(60)}. ${syntax} continues as text here.`
    const text = Array.from({ length: 120 }, (_, n) => sentence(n)).join(' ')

    const segments = splitParagraph(text)

    expect(segments.join(' ')).toBe(text)
    // Inline delimiters in the syntax itself (`*`, `_`, backticks) leave spans open, so no cut.
    if (!/[*_`]/.test(syntax)) expect(segments.length).toBeGreaterThan(1)
    for (const segment of segments.slice(1)) {
      expect(segment.startsWith(syntax.slice(0, 2))).toBe(false)
    }
  })
})
