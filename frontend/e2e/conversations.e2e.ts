import { readFileSync } from 'node:fs'

import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'

import { ChatPage, launchBrowser } from './chat-page'
import { E2E_API_KEY } from './global-setup'

const appUrl = inject('appUrl')
const securedUrl = inject('securedUrl')

/** Every test's prompts carry a tag of their own: the database lives for the whole run. */
const tag = () => Math.random().toString(36).slice(2, 8)

let browser: Browser

beforeAll(async () => {
  browser = await launchBrowser()
})

afterAll(async () => {
  await browser?.close()
})

describe('stored conversations through the real server', () => {
  it('keeps both turns of a conversation after a reload', async () => {
    const chat = await ChatPage.open(browser, appUrl)
    const t = tag()
    await chat.send(`First question ${t}`)
    await chat.waitForAnswer()
    await chat.send(`Second question ${t}`)
    await chat.waitForAnswer(1)
    const answers = [await chat.answerText(0), await chat.answerText(1)]
    const id = chat.conversationId()
    expect(id, 'the URL names the conversation').not.toBeNull()

    await chat.reload()

    expect(await chat.userMessages.allTextContents()).toEqual([`First question ${t}`, `Second question ${t}`])
    expect([await chat.answerText(0), await chat.answerText(1)]).toEqual(answers)
    expect(chat.conversationId()).toBe(id)
    expect(await chat.activeConversation.textContent()).toContain(`First question ${t}`)
    expect(chat.cspViolations).toEqual([])
    await chat.close()
  })

  it('lists a second conversation above the first, and opens either', async () => {
    const chat = await ChatPage.open(browser, appUrl)
    const t = tag()
    await chat.send(`Apples ${t}`)
    await chat.waitForAnswer()
    const apples = chat.conversationId()

    await chat.newChat()
    expect(chat.conversationId()).toBeNull()
    await chat.send(`Pears ${t}`)
    await chat.waitForAnswer()

    await chat.conversation(`Pears ${t}`).waitFor()
    const titles = await chat.conversationTitles()
    expect(titles.indexOf(`Pears ${t}`)).toBeGreaterThanOrEqual(0)
    expect(titles.indexOf(`Pears ${t}`)).toBeLessThan(titles.indexOf(`Apples ${t}`))
    expect(await chat.activeConversation.textContent()).toBe(`Pears ${t}`)

    await chat.conversation(`Apples ${t}`).click()
    await chat.userMessages.getByText(`Apples ${t}`).waitFor()
    expect(chat.conversationId()).toBe(apples)
    expect(await chat.activeConversation.textContent()).toBe(`Apples ${t}`)
    await chat.page.goBack()
    await chat.userMessages.getByText(`Pears ${t}`).waitFor()
    await chat.close()
  })

  it('renames a conversation, and the name stays after a reload', async () => {
    const chat = await ChatPage.open(browser, appUrl)
    const t = tag()
    await chat.send(`Rename me ${t}`)
    await chat.waitForAnswer()
    await chat.conversation(`Rename me ${t}`).waitFor()

    await chat.renameConversation(`Rename me ${t}`, `Renamed ${t}`)

    await chat.conversation(`Renamed ${t}`).waitFor()
    await chat.reload()
    expect(await chat.activeConversation.textContent()).toBe(`Renamed ${t}`)
    expect(await chat.conversation(`Rename me ${t}`).count()).toBe(0)
    await chat.close()
  })

  it('deletes a conversation after confirmation, and it stays gone', async () => {
    const chat = await ChatPage.open(browser, appUrl)
    const t = tag()
    await chat.send(`Delete me ${t}`)
    await chat.waitForAnswer()
    await chat.conversation(`Delete me ${t}`).waitFor()
    const url = chat.page.url()

    await chat.deleteConversation(`Delete me ${t}`)

    expect(await chat.conversation(`Delete me ${t}`).count()).toBe(0)
    expect(chat.conversationId(), 'the open conversation was left').toBeNull()
    await chat.reload()
    expect(await chat.conversation(`Delete me ${t}`).count()).toBe(0)
    await chat.page.goto(url)
    await chat.page.getByText('This conversation does not exist, or it was deleted.').waitFor()

    // One that is not open: its row goes, and focus goes to New chat, not to the page.
    const newChat = chat.sidebar.getByRole('button', { name: 'New chat' })
    await newChat.click()
    await chat.send(`Delete me too ${t}`)
    await chat.waitForAnswer()
    await newChat.click()
    await chat.deleteConversation(`Delete me too ${t}`)
    await chat.page.waitForFunction(() => document.activeElement?.textContent === 'New chat')
    await chat.close()
  })

  it('Stop leaves a partial answer marked as stopped after a reload', async () => {
    const chat = await ChatPage.open(browser, appUrl)
    await chat.send('[[scenario:slow delay_ms=100 n=300]]')
    await chat.answer().getByText(/ipsum1/).waitFor()

    await chat.stopButton.click()
    await chat.answer().getByText('Stopped').waitFor()
    await chat.reload()

    await chat.answer().getByText('Stopped').waitFor()
    expect(await chat.answerText()).toContain('lorem0')
    await chat.close()
  })

  it('takes a question sent right after Stop, once the server has stopped the answer', async () => {
    const chat = await ChatPage.open(browser, appUrl)
    await chat.send('[[scenario:slow delay_ms=100 n=300]]')
    await chat.answer().getByText(/ipsum1/).waitFor()
    await chat.messageBox.fill(`Next question ${tag()}`)

    await chat.messageBox.press('Escape')
    await chat.answer().getByText('Stopped').waitFor()
    await chat.messageBox.press('Enter')

    await chat.waitForAnswer()
    expect(await chat.alert.count(), 'no "another answer is being written"').toBe(0)
    expect(await chat.answer(0).textContent()).toContain('Stopped')
    expect(await chat.userMessages.count()).toBe(2)
    await chat.close()
  })

  it('downloads a conversation as Markdown', async () => {
    const chat = await ChatPage.open(browser, appUrl)
    const t = tag()
    await chat.send(`Export me ${t}`)
    await chat.waitForAnswer()
    await chat.conversation(`Export me ${t}`).waitFor()

    await chat.openActions(`Export me ${t}`)
    const [download] = await Promise.all([
      chat.page.waitForEvent('download'),
      chat.sidebar.getByRole('link', { name: 'Download as Markdown' }).click(),
    ])

    expect(readFileSync((await download.path())!, 'utf8')).toContain(`Export me ${t}`)
    await chat.close()
  })

  it('downloads with the API key from a secured server', async () => {
    const chat = await ChatPage.open(browser, securedUrl)
    await chat.page.getByRole('button', { name: 'API key' }).click()
    const form = chat.page.getByRole('form', { name: 'API key settings' })
    await form.getByLabel('API key').fill(E2E_API_KEY)
    await form.getByRole('button', { name: 'Save' }).click()
    const t = tag()
    await chat.send(`Secret export ${t}`)
    await chat.waitForAnswer()
    await chat.conversation(`Secret export ${t}`).waitFor()

    await chat.openActions(`Secret export ${t}`)
    const [download] = await Promise.all([
      chat.page.waitForEvent('download'),
      chat.sidebar.getByRole('link', { name: 'Download as Markdown' }).click(),
    ])

    expect(readFileSync((await download.path())!, 'utf8')).toContain(`Secret export ${t}`)
    await chat.close()
  })

  it('offers the conversations in a drawer on a phone', async () => {
    const chat = await ChatPage.open(browser, appUrl, 'light', { width: 390, height: 760 })
    const t = tag()
    await chat.send(`Pocket ${t}`)
    await chat.waitForAnswer()
    expect(await chat.sidebar.count(), 'no sidebar beside the chat').toBe(0)

    await chat.page.getByRole('button', { name: 'Show conversations' }).click()
    const drawer = chat.page.getByRole('dialog', { name: 'Conversations' })
    await chat.conversation(`Pocket ${t}`).waitFor()
    expect(await chat.activeConversation.textContent()).toBe(`Pocket ${t}`)
    await chat.page.keyboard.press('Escape')
    await drawer.waitFor({ state: 'detached' })

    const overflow = await chat.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    expect(overflow, 'no horizontal scrolling').toBeLessThanOrEqual(0)
    expect(await chat.page.getByRole('button', { name: 'Show conversations' }).evaluate((el) => el === document.activeElement)).toBe(true)
    await chat.close()
  })
})
