import { splitBlocks } from './markdown-blocks'

describe('splitBlocks', () => {
  it('splits at blank lines', () => {
    expect(splitBlocks('# Title\n\nOne\ntwo\n\n\n- a\n- b')).toEqual(['# Title', 'One\ntwo', '- a\n- b'])
  })

  it('keeps a code fence with blank lines in one block, even while it is still open', () => {
    expect(splitBlocks('Intro\n\n```py\na = 1\n\nb = 2\n```\n\nAfter')).toEqual(['Intro', '```py\na = 1\n\nb = 2\n```', 'After'])
    expect(splitBlocks('```\nopen\n\nstill open')).toEqual(['```\nopen\n\nstill open'])
  })
})
