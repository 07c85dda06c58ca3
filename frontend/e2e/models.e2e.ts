import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

import { ChatPage, emulatorRequests, launchBrowser, storedConversation } from './chat-page'
import { E2E_MODELS } from './global-setup'

const appUrl = inject('appUrl')
const emulatorUrl = inject('emulatorUrl')

/** Every test's prompts carry a tag of their own: the emulator's log lives for the whole run. */
const tag = () => Math.random().toString(36).slice(2, 8)

/** What reached "Bedrock" for the turn whose prompt is `prompt`. */
async function requestsFor(prompt: string) {
  return (await emulatorRequests(emulatorUrl)).filter((r) => JSON.stringify(r.body.messages).includes(prompt))
}

interface ThinkingSnapshot {
  open: boolean
  summary: string
  reasoning: string
  answer: string
}

/**
 * Records the last answer's Thinking section after every change to the page, so that a
 * state lasting one frame (reasoning streams for ~60 ms in the emulator) is not missed.
 */
async function recordThinking(page: Page): Promise<() => Promise<ThinkingSnapshot[]>> {
  await page.evaluate(() => {
    const w = window as unknown as { thinkingSeen: ThinkingSnapshot[] }
    w.thinkingSeen = []
    new MutationObserver(() => {
      const answer = Array.from(document.querySelectorAll('article[aria-label="Assistant"]')).at(-1)
      const details = answer?.querySelector('details')
      if (!answer || !details) return
      w.thinkingSeen.push({
        open: details.open,
        summary: details.querySelector('summary')?.textContent ?? '',
        reasoning: details.querySelector('p')?.textContent ?? '',
        answer: answer.querySelector('.markdown')?.textContent ?? '',
      })
    }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true })
  })
  return () => page.evaluate(() => (window as unknown as { thinkingSeen: ThinkingSnapshot[] }).thinkingSeen)
}

let browser: Browser

beforeAll(async () => {
  browser = await launchBrowser()
})

afterAll(async () => {
  await browser?.close()
})

describe('choosing the model', () => {
  it('sends the turn to the model picked from the list, and keeps it for the conversation', async () => {
    const chat = await ChatPage.open(browser, appUrl)
    await chat.modelPicker.waitFor()
    expect(await chat.modelPicker.inputValue()).toBe(E2E_MODELS.default.id)
    expect(await chat.headerModel.textContent()).toBe(E2E_MODELS.default.name)

    await chat.chooseModel(E2E_MODELS.reasoning.name)
    const prompt = `Which model answers? ${tag()}`
    await chat.send(prompt)
    await chat.waitForAnswer()

    expect(await chat.headerModel.textContent()).toBe(E2E_MODELS.reasoning.name)
    const seen = await requestsFor(prompt)
    expect(seen.length, 'the emulator saw the turn').toBeGreaterThan(0)
    expect(seen.map((r) => r.modelId)).toEqual(seen.map(() => E2E_MODELS.reasoning.id))
    const id = chat.conversationId()
    expect(id, 'the URL names the conversation').not.toBeNull()
    expect((await storedConversation(appUrl, id!)).model).toBe(E2E_MODELS.reasoning.id)

    await chat.reload()

    expect(await chat.modelPicker.inputValue()).toBe(E2E_MODELS.reasoning.id)
    expect(await chat.headerModel.textContent()).toBe(E2E_MODELS.reasoning.name)
    await chat.close()
  })

  it('shows the reasoning streaming in an open Thinking section, folded away once the answer starts', async () => {
    const chat = await ChatPage.open(browser, appUrl)
    await chat.modelPicker.waitFor()
    expect(await chat.reasoningPicker.count(), 'no reasoning control for a model that cannot reason').toBe(0)
    await chat.chooseModel(E2E_MODELS.reasoning.name)
    await chat.chooseReasoning('High')
    const snapshots = await recordThinking(chat.page)

    // The emulator reasons, as Claude does, when the request asks a reasoning model to think.
    const prompt = `Greet me ${tag()}`
    const reasoning = `Let me think about this. The person wrote "${prompt}". A short, friendly answer fits.`
    await chat.send(prompt)
    await chat.waitForAnswer()

    const seen = await snapshots()
    expect(
      seen.some((s) => s.open && s.summary === 'Thinking…' && s.reasoning !== '' && s.answer === ''),
      `open with reasoning before any answer text: ${JSON.stringify(seen)}`,
    ).toBe(true)
    const thinking = chat.thinking()
    expect(await thinking.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false)
    expect(await thinking.locator('summary').textContent()).toMatch(/^Thought for \d+\.\d s$/)
    expect(await chat.answerText()).not.toBe('')

    // The summary is a disclosure control: the keyboard opens it again.
    await thinking.locator('summary').focus()
    await chat.page.keyboard.press('Enter')
    await expect.poll(() => thinking.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(true)
    expect(await thinking.locator('p').textContent()).toBe(reasoning)

    const [request] = await requestsFor(prompt)
    expect(request?.modelId).toBe(E2E_MODELS.reasoning.id)
    expect(JSON.stringify(request?.body.additionalModelRequestFields ?? {}), 'the reasoning level reached Bedrock').toMatch(/thinking|reasoning/)

    // A stored answer keeps its reasoning, folded away, without a duration.
    await chat.reload()
    expect(await chat.thinking().evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false)
    expect(await chat.thinking().locator('summary').textContent()).toBe('Thought')
    expect(await chat.thinking().locator('p').textContent()).toBe(reasoning)

    // The next turn carries the signed reasoning back, which the emulator checks. The reload
    // kept the model (the conversation's) and the reader's level (the browser's).
    expect(await chat.reasoningPicker.inputValue()).toBe('high')
    await chat.chooseReasoning('Low')
    await chat.send(`And again ${tag()}`)
    await chat.waitForAnswer(1)
    expect(await chat.thinking(1).locator('summary').textContent()).toMatch(/^Thought for \d+\.\d s$/)
    await chat.close()
  })
})
