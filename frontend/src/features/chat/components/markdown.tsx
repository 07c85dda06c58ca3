import { memo, useId, useMemo } from 'react'
import ReactMarkdown, { type Components } from 'react-markdown'
import remarkGfm from 'remark-gfm'

import { CodeBlock } from './code-block'
import { splitBlocks, splitParagraph } from './markdown-blocks'

const components: Components = {
  // Fenced code becomes a CodeBlock; `pre` passes its child through so there is one <pre>.
  pre: ({ children }) => <>{children}</>,
  code: ({ className, children }) => {
    const language = /language-([\w+-]+)/.exec(className ?? '')?.[1]
    const text = String(children ?? '')
    const fenced = language !== undefined || text.includes('\n')
    return fenced ? <CodeBlock code={text.replace(/\n$/, '')} language={language} /> : <code>{children}</code>
  },
  // Focusable, as a table wider than the answer scrolls sideways (see index.css).
  table: ({ children }) => <table tabIndex={0}>{children}</table>,
  // A footnote's links (`#…`, with their ids and labels) stay on the page; any other opens
  // beside the chat.
  a: ({ node, ...attributes }) =>
    attributes.href?.startsWith('#') ? <a {...attributes} /> : <a {...attributes} target="_blank" rel="noopener noreferrer" />,
}

/** What `htmlBlocksAsCode` reads of a Markdown syntax tree (mdast). */
interface MdNode {
  type: string
  value?: string
  lang?: string
  children?: MdNode[]
}

/** The nodes whose children are blocks; raw HTML elsewhere is inline, within a line of text. */
const FLOW = new Set(['root', 'blockquote', 'listItem', 'footnoteDefinition'])

/**
 * A remark plugin: raw HTML that stands as a block of its own (a model's example written
 * without a code fence) is shown as the HTML code it is, lines and all, rather than run
 * together as one line of text. Inline HTML stays text within its line.
 */
function htmlBlocksAsCode() {
  const walk = (node: MdNode) =>
    node.children?.forEach((child, i, siblings) => {
      if (child.type === 'html' && FLOW.has(node.type)) siblings[i] = { type: 'code', lang: 'html', value: child.value ?? '' }
      else walk(child)
    })
  return walk
}

const remarkPlugins = [remarkGfm, htmlBlocksAsCode]

/** What `footnoteLabelOfItsOwn` reads of an HTML syntax tree (hast). */
interface HastNode {
  type: string
  properties?: { id?: unknown; ariaDescribedBy?: unknown }
  children?: HastNode[]
}

/**
 * A rehype plugin: the heading of an answer's footnotes, and the references that point at it,
 * get the answer's own id (remark-rehype names every answer's `footnote-label`, unprefixed).
 */
function footnoteLabelOfItsOwn(prefix: string) {
  const label = `${prefix}footnote-label`
  const walk = (node: HastNode) => {
    const properties = node.properties
    if (properties?.id === 'footnote-label') properties.id = label
    if (Array.isArray(properties?.ariaDescribedBy)) {
      properties.ariaDescribedBy = properties.ariaDescribedBy.map((id) => (id === 'footnote-label' ? label : id))
    }
    node.children?.forEach(walk)
  }
  return () => walk
}

/** A piece of a long paragraph: its inline content, without a <p> of its own. */
const inlineComponents: Components = { ...components, p: ({ children }) => <>{children}</> }

/**
 * One block. Raw HTML from the model is shown as the text it is, never rendered (react-markdown
 * makes it text without rehype-raw, and `htmlBlocksAsCode` a block of it code; `skipHtml` would
 * drop it, and with it the `<div>` of an answer about HTML or the `<String>` of a generic type),
 * and react-markdown drops `javascript:` links.
 */
const Block = memo(function Block({ text, inline = false, ids = '' }: { text: string; inline?: boolean; ids?: string }) {
  const rehypePlugins = useMemo(() => [footnoteLabelOfItsOwn(ids)], [ids])
  return (
    <ReactMarkdown
      remarkPlugins={remarkPlugins}
      remarkRehypeOptions={{ clobberPrefix: ids }}
      rehypePlugins={rehypePlugins}
      components={inline ? inlineComponents : components}
    >
      {text}
    </ReactMarkdown>
  )
})

/**
 * A block. A long paragraph is parsed piece by piece (see `splitParagraph`) into one <p> whose
 * pieces are laid out as blocks of their own: as the last piece grows, the browser lays out
 * only it, where one inline run would be laid out whole on every frame (about 20 ms at 150 KB).
 * The price is a line break at a sentence end every 2,000 or so characters.
 */
const Paragraph = memo(function Paragraph({ text, ids }: { text: string; ids: string }) {
  const segments = splitParagraph(text)
  if (segments.length === 1) return <Block text={text} ids={ids} />
  return (
    <p>
      {segments.map((segment, i) => (
        <span key={i} className="piece">
          {i > 0 && ' ' /* collapsed at the start of a line, but kept in the text */}
          <Block text={segment} inline />
        </span>
      ))}
    </p>
  )
})

/**
 * Markdown rendered block by block (and long paragraphs piece by piece), so a streaming answer
 * re-parses only its last piece on each frame; `settled` once it no longer changes (see
 * `splitBlocks`).
 */
export function Markdown({ text, settled = true }: { text: string; settled?: boolean }) {
  const blocks = useMemo(() => splitBlocks(text, settled), [text, settled])
  // The prefix of this answer's footnote ids, so two answers' `[^1]` are two footnotes.
  const ids = `${useId().replace(/[^\w-]/g, '')}-`
  return (
    <div className="markdown">
      {blocks.map((block, i) => (
        <Paragraph key={i} text={block} ids={ids} />
      ))}
    </div>
  )
}
