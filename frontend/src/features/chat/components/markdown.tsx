import { memo, useMemo } from 'react'
import ReactMarkdown, { type Components } from 'react-markdown'
import remarkGfm from 'remark-gfm'

import { CodeBlock } from './code-block'
import { splitBlocks } from './markdown-blocks'

const components: Components = {
  // Fenced code becomes a CodeBlock; `pre` passes its child through so there is one <pre>.
  pre: ({ children }) => <>{children}</>,
  code: ({ className, children }) => {
    const language = /language-([\w+-]+)/.exec(className ?? '')?.[1]
    const text = String(children ?? '')
    const fenced = language !== undefined || text.includes('\n')
    return fenced ? <CodeBlock code={text.replace(/\n$/, '')} language={language} /> : <code>{children}</code>
  },
  a: ({ href, children }) => (
    <a href={href} target="_blank" rel="noopener noreferrer">
      {children}
    </a>
  ),
}

/** One block. Raw HTML from the model is never rendered (`skipHtml`), and react-markdown drops `javascript:` links. */
const Block = memo(function Block({ text }: { text: string }) {
  return (
    <ReactMarkdown remarkPlugins={[remarkGfm]} components={components} skipHtml>
      {text}
    </ReactMarkdown>
  )
})

/** Markdown rendered block by block, so a streaming answer re-parses only its last block. */
export function Markdown({ text }: { text: string }) {
  const blocks = useMemo(() => splitBlocks(text), [text])
  return (
    <div className="markdown">
      {blocks.map((block, i) => (
        <Block key={i} text={block} />
      ))}
    </div>
  )
}
