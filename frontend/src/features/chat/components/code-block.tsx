import { useEffect, useState } from 'react'

/** highlight.js is loaded on first use, in its own chunk, so it stays out of the initial bundle. */
let highlighter: Promise<typeof import('./highlighter')> | undefined
const loadHighlighter = () => (highlighter ??= import('./highlighter'))

/** A fenced code block: plain at once, highlighted as soon as highlight.js has loaded, with a copy button. */
export function CodeBlock({ code, language }: { code: string; language: string | undefined }) {
  const [copied, setCopied] = useState(false)
  const [html, setHtml] = useState<string | null>(null)

  useEffect(() => {
    if (!language) return
    let current = true
    loadHighlighter().then(({ highlight }) => current && setHtml(highlight(code, language)))
    return () => {
      current = false
    }
  }, [code, language])

  const copy = async () => {
    try {
      await navigator.clipboard.writeText(code)
      setCopied(true)
      setTimeout(() => setCopied(false), 1500)
    } catch {
      setCopied(false)
    }
  }
  return (
    <div className="code-block">
      <div className="code-toolbar">
        <span className="code-language">{language ?? 'text'}</span>
        <button type="button" className="copy-button" onClick={copy} aria-label={copied ? 'Copied' : 'Copy code'}>
          {copied ? 'Copied' : 'Copy'}
        </button>
        <span className="visually-hidden" role="status">
          {copied ? 'Copied to the clipboard' : ''}
        </span>
      </div>
      {/* Focusable, so that a line wider than the block can be scrolled to from the keyboard. */}
      <pre tabIndex={0} role="region" aria-label={`${language ?? 'text'} code`}>
        {html === null ? <code>{code}</code> : <code className="hljs" dangerouslySetInnerHTML={{ __html: html }} />}
      </pre>
    </div>
  )
}
