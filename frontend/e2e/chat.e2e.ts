import { mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { resolve } from 'node:path'

import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

import { ChatPage, emulatorRequests, launchBrowser } from './chat-page'
import { E2E_API_KEY, E2E_MODELS } from './global-setup'

const appUrl = inject('appUrl')
const emulatorUrl = inject('emulatorUrl')
const securedUrl = inject('securedUrl')
const screenshots = resolve(import.meta.dirname, '../screenshots')

let browser: Browser

/** What the test reads of axe-core's results. */
interface AxeResults {
  violations: { id: string; nodes: { target: string[]; failureSummary?: string }[] }[]
}

beforeAll(async () => {
  browser = await launchBrowser()
  mkdirSync(screenshots, { recursive: true })
})

afterAll(async () => {
  await browser?.close()
})

describe('chatting through the real server and the Bedrock emulator', () => {
  it('streams an answer in as it is written', async () => {
    const chat = await ChatPage.open(browser, appUrl)
    await chat.send('[[scenario:slow delay_ms=60 n=30]]')

    const lengths = new Set<number>()
    const started = Date.now()
    while (Date.now() - started < 10_000) {
      const text = (await chat.answer().textContent()) ?? ''
      lengths.add(text.length)
      if (text.includes('tokens ·')) break
      await chat.page.waitForTimeout(100)
    }

    expect(lengths.size, 'the answer grew in several steps, not in one piece').toBeGreaterThan(4)
    await expect.poll(() => chat.answer().textContent()).toContain('consectetur29')
    await chat.close()
  })

  it('can stop generation with the Stop button, leaving a draft unsent', async () => {
    const chat = await ChatPage.open(browser, appUrl)
    await chat.send('[[scenario:slow delay_ms=100 n=300]]')
    await chat.answer().getByText(/ipsum1/).waitFor()
    await chat.messageBox.fill('My next question')

    await chat.stopButton.click()

    await chat.answer().getByText(/Stopped/).waitFor()
    expect(await chat.answer().textContent()).toContain('lorem0')
    // The click ends on the button Stop was: never on a Send button put in its place.
    expect(await chat.messageBox.inputValue()).toBe('My next question')
    expect(await chat.userMessages.count()).toBe(1)
    await expect
      .poll(async () => (await emulatorRequests(emulatorUrl)).at(-1)?.outcome.kind, { timeout: 3_000 })
      .toBe('client-hung-up')
    await chat.close()
  })

  it('explains an access-denied error and offers a retry', async () => {
    const chat = await ChatPage.open(browser, appUrl)

    await chat.send('[[scenario:deny-all]]')

    await chat.alert.waitFor()
    const alert = await chat.alert.textContent()
    expect(alert).toContain('Bedrock refused access.')
    expect(alert, "the server's message says what to check").toContain('bedrock:InvokeModelWithResponseStream')
    expect(await chat.alert.getByRole('button', { name: 'Retry' }).isVisible()).toBe(true)
    await chat.close()
  })

  it('carries the history into the second turn', async () => {
    const chat = await ChatPage.open(browser, appUrl)
    await chat.send('Hello there')
    await chat.waitForAnswer()

    await chat.send('[[scenario:echo]] and again')
    await chat.waitForAnswer(1)

    const last = (await emulatorRequests(emulatorUrl)).at(-1)!
    expect(last.body.messages).toHaveLength(3)
    expect(await chat.answer(1).textContent()).toContain('You said: Hello there')
    await chat.close()
  })

  it('renders a code block whose copy button copies the code', async () => {
    const chat = await ChatPage.open(browser, appUrl)

    await chat.send('Here:\n```rust\nfn main() { println!("hi"); }\n```')
    await chat.waitForAnswer()
    await chat.answer().getByRole('button', { name: 'Copy code' }).click()

    expect(await chat.answer().locator('pre code .hljs-keyword').first().textContent()).toBe('fn')
    expect(await chat.page.evaluate(() => navigator.clipboard.readText())).toBe('fn main() { println!("hi"); }')
    await chat.close()
  })

  it('asks for the API key a secured server needs, then answers with it', async () => {
    const chat = await ChatPage.open(browser, securedUrl)
    const form = chat.page.getByRole('form', { name: 'API key settings' })
    await expect.poll(() => form.isVisible(), { message: 'offered as the page opens' }).toBe(true)

    await chat.send('Hello behind a key')
    await expect.poll(() => chat.alert.textContent()).toContain('needs an API key')
    await form.getByLabel('API key').fill(E2E_API_KEY)
    await form.getByRole('button', { name: 'Save' }).click()
    await chat.waitForAnswer()

    expect(await chat.answer().textContent()).toContain('You said: Hello behind a key')
    expect(await chat.page.evaluate(() => sessionStorage.getItem('streambed.apiKey'))).toBe(E2E_API_KEY)
    await expect.poll(() => chat.headerModel.textContent()).toBe(E2E_MODELS.default.name)
    await chat.close()
  })

  it("runs under the server's strict Content-Security-Policy without a violation", async () => {
    const chat = await ChatPage.open(browser, appUrl)
    const page = await fetch(appUrl)

    // Markdown, the lazily loaded highlighter and its styles all come from this origin.
    await chat.send('Here:\n```ts\nconst x: number = 1\n```')
    await chat.waitForAnswer()
    await chat.answer().locator('pre code .hljs-keyword').first().waitFor()

    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(page.headers.get('x-content-type-options')).toBe('nosniff')
    expect(chat.cspViolations).toEqual([])
    await chat.close()
  })

  it('saves screenshots of an answered chat in light and dark', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const chat = await ChatPage.open(browser, appUrl, scheme)
      await chat.send('Show me a tiny Rust program:\n```rust\nfn main() {\n    println!("Hello, Bedrock!");\n}\n```')
      await chat.waitForAnswer()
      await chat.page.screenshot({ path: resolve(screenshots, `chat-${scheme}.png`) })
      await chat.close()
    }
  })

  it('passes axe-core\'s WCAG 2 A, AA and AAA checks (contrast 7:1 included) in light and dark', async () => {
    const axe = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
    for (const scheme of ['light', 'dark'] as const) {
      const chat = await ChatPage.open(browser, appUrl, scheme)
      // An answer with a link, a list, a quote and highlighted code; then a refused one (the alert).
      await chat.send('See [the docs](https://example.com):\n- one\n> quoted\n```rust\nfn main() { let n = 1; // one\n}\n```')
      await chat.waitForAnswer()
      await chat.answer().locator('pre code .hljs-keyword').first().waitFor()
      await chat.send('[[scenario:deny-all]]')
      await chat.alert.waitFor()

      // Evaluated through the DevTools protocol: the page's Content-Security-Policy still holds.
      await chat.page.evaluate(axe)
      const violations = await chat.page.evaluate(async () => {
        const run = (window as unknown as { axe: { run: (context: Document, options: object) => Promise<AxeResults> } }).axe.run
        const tags = ['wcag2a', 'wcag2aa', 'wcag2aaa', 'wcag21a', 'wcag21aa', 'wcag21aaa', 'wcag22aa']
        const results = await run(document, { runOnly: { type: 'tag', values: tags } })
        return results.violations.map((v) => `${v.id}: ${v.nodes.map((n) => `${n.target.join(' ')} (${n.failureSummary})`).join('; ')}`)
      })
      expect(violations, scheme).toEqual([])
      await chat.close()
    }
  })

  it('fits a phone-width screen, down to 320 px', async () => {
    const chat = await ChatPage.open(browser, appUrl, 'light', { width: 390, height: 760 })
    await chat.send('A long line to wrap: ' + 'streaming '.repeat(30))
    await chat.waitForAnswer()
    await chat.page.screenshot({ path: resolve(screenshots, 'chat-phone.png') })

    // 390 px (iPhones), 360 px (many Android phones), 320 px (the smallest still sold).
    for (const width of [390, 360, 320]) {
      await chat.page.setViewportSize({ width, height: 760 })
      const overflow = await chat.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      expect(overflow, `no horizontal scrolling at ${width} px`).toBeLessThanOrEqual(0)
      expect(await chat.messageBox.isVisible()).toBe(true)
      expect(await chat.page.getByRole('button', { name: 'New chat' }).isVisible()).toBe(true)
    }
    await chat.close()
  })

  // 4,000 tokens by default (20 s); E2E_LONG_TOKENS=20000 runs the full 100 s version.
  const longTokens = Number(process.env.E2E_LONG_TOKENS ?? 4000)

  it(`keeps the main thread free during a long answer (${longTokens} tokens at 200 tokens/s)`, async () => {
    const chat = await ChatPage.open(browser, appUrl)
    await chat.messageBox.waitFor()
    // Only tasks from now on: page start-up (parsing the bundle, first render) is not streaming.
    await chat.page.evaluate(() => {
      const w = window as unknown as { longTasks: number[]; longestFrame: number }
      w.longTasks = []
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) w.longTasks.push(entry.duration)
      }).observe({ type: 'longtask' })
      // The longest time between two painted frames, which also catches jank under 50 ms.
      w.longestFrame = 0
      let last = performance.now()
      const frame = (now: number) => {
        w.longestFrame = Math.max(w.longestFrame, now - last)
        last = now
        requestAnimationFrame(frame)
      }
      requestAnimationFrame(frame)
    })

    await chat.send(`[[scenario:slow delay_ms=5 n=${longTokens}]]`)
    await chat.answer().getByText(/tokens ·/).waitFor({ timeout: longTokens * 10 + 30_000 })

    const { longTasks, longestFrame } = await chat.page.evaluate(() => {
      const { longTasks, longestFrame } = window as unknown as { longTasks: number[]; longestFrame: number }
      return { longTasks, longestFrame }
    })
    // The longtask API reports only tasks over 50 ms.
    const report = longTasks.length > 0 ? `${Math.max(...longTasks).toFixed(0)} ms (${longTasks.length} over 50 ms)` : 'none over 50 ms'
    console.log(`longest main-thread task while streaming ${longTokens} tokens: ${report}; longest frame: ${longestFrame.toFixed(0)} ms`)
    const text = await chat.answer().textContent()
    expect(text).toContain(`${longTokens - 1}`)
    expect(text).toContain(`${longTokens} tokens`)
    await chat.close()
  }, longTokens * 10 + 60_000)
})
