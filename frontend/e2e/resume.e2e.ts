import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

import { ChatPage, emulatorRequests, launchBrowser, storedConversation, syntheticText } from './chat-page'
import { startProxy } from './tcp-proxy'

const appUrl = inject('appUrl')
const emulatorUrl = inject('emulatorUrl')

/** About ten seconds of answer: time enough to reload, or to drop the network, mid-way. */
const N = 200
const slowPrompt = `[[scenario:slow delay_ms=50 n=${N}]]`

let browser: Browser

beforeAll(async () => {
  browser = await launchBrowser()
})

afterAll(async () => {
  await browser?.close()
})

/** The stored answer once the server has written its end. */
async function storedAnswer(id: string) {
  await expect
    .poll(async () => (await storedConversation(appUrl, id)).messages.at(-1)?.status, { timeout: 10_000 })
    .not.toBe('streaming')
  return (await storedConversation(appUrl, id)).messages.at(-1)
}

describe('answers that survive a reload or a dropped network', () => {
  it('goes on streaming an answer into the page after a reload, to its end', async () => {
    const chat = await ChatPage.open(browser, appUrl)
    await chat.send(slowPrompt)
    await chat.answer().getByText(/ipsum1/).waitFor()
    const id = chat.conversationId()!

    await chat.reloadPage()

    // Still being written, and followed: the page offers Stop, then the answer ends.
    await chat.stopButton.waitFor()
    await chat.waitUntilIdle()
    expect(await chat.answerText()).toBe(syntheticText(N).trim())
    expect(await storedAnswer(id)).toMatchObject({ role: 'assistant', status: 'complete', content: syntheticText(N) })
    expect(await chat.answer().getByText(/\d+ tokens/).isVisible()).toBe(true)
    expect(await chat.alert.count()).toBe(0)
    await chat.close()
  })

  it('follows, in a second tab, the answer a question asked in the first is getting', async () => {
    const first = await ChatPage.open(browser, appUrl)
    await first.send('Hello')
    await first.waitForAnswer()
    const second = await first.openTab(first.page.url())
    await second.answer().waitFor()

    await first.send(slowPrompt)

    // The second tab shows the question, and the answer as it is written, without a reload.
    await second.userMessages.nth(1).getByText(slowPrompt).waitFor()
    await second.answer().getByText(/ipsum1/).waitFor()
    await second.stopButton.waitFor()
    await second.waitUntilIdle()
    expect(await second.answerText()).toBe(syntheticText(N).trim())
    expect(await second.alert.count()).toBe(0)
    await first.close()
  })

  it('can stop an answer followed after a reload', async () => {
    const chat = await ChatPage.open(browser, appUrl)
    await chat.send(slowPrompt)
    await chat.answer().getByText(/ipsum1/).waitFor()
    const id = chat.conversationId()!
    await chat.reloadPage()

    await chat.stopButton.click()

    await chat.answer().getByText('Stopped').waitFor()
    const stored = await storedAnswer(id)
    expect(stored?.status).toBe('stopped')
    expect(stored?.content.length).toBeLessThan(syntheticText(N).length)
    // The page stops reading at once; the server may have written a word more by then.
    expect(stored?.content.startsWith((await chat.answerText()) ?? '')).toBe(true)
    await expect
      .poll(async () => (await emulatorRequests(emulatorUrl)).at(-1)?.outcome.kind, { timeout: 5_000 })
      .toBe('client-hung-up')
    await chat.close()
  })

  it('reconnects when the network drops mid-answer, saying so, and shows the whole answer', async () => {
    const proxy = await startProxy(appUrl)
    const chat = await ChatPage.open(browser, proxy.url)
    try {
      await chat.send(slowPrompt)
      await chat.answer().getByText(/ipsum1/).waitFor()
      const id = chat.conversationId()!

      proxy.cut()
      await chat.reconnecting.waitFor()
      // The network stays down for a while: the first attempts to reconnect fail.
      await chat.page.waitForTimeout(1_500)
      proxy.restore()

      await chat.reconnecting.waitFor({ state: 'detached', timeout: 15_000 })
      await chat.waitUntilIdle()
      expect(await chat.answerText()).toBe(syntheticText(N).trim())
      expect(await storedAnswer(id)).toMatchObject({ status: 'complete', content: syntheticText(N) })
      expect(await chat.alert.count()).toBe(0)
    } finally {
      await chat.close()
      await proxy.close()
    }
  })
})
