import { type Browser, type BrowserContext, type Page, chromium } from 'playwright-core'

/** Debian's Chromium, headless, with nothing reaching out to the network. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
}

/** The chat screen as a user sees it (page object). */
export class ChatPage {
  /** Console reports of anything the Content-Security-Policy blocked. */
  readonly cspViolations: string[] = []

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
  ) {
    page.on('console', (message) => {
      if (message.text().includes('Content Security Policy')) this.cspViolations.push(message.text())
    })
  }

  static async open(
    browser: Browser,
    url: string,
    colorScheme: 'light' | 'dark' = 'light',
    viewport = { width: 900, height: 700 },
  ): Promise<ChatPage> {
    const context = await browser.newContext({ colorScheme, viewport })
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url })
    const chat = new ChatPage(context, await context.newPage())
    await chat.page.goto(url)
    return chat
  }

  /** Another tab of the same browser (sharing its storage and its tabs' messages), at `url`. */
  async openTab(url: string): Promise<ChatPage> {
    const tab = new ChatPage(this.context, await this.context.newPage())
    await tab.page.goto(url)
    return tab
  }

  get messageBox() {
    return this.page.getByRole('textbox', { name: 'Message' })
  }

  get stopButton() {
    return this.page.getByRole('button', { name: 'Stop' })
  }

  get alert() {
    return this.page.getByRole('alert')
  }

  /** The user's turns, in order. */
  get userMessages() {
    return this.page.getByRole('article', { name: 'You' })
  }

  /** The conversation list (a sidebar on wide screens; on a phone, inside the drawer once opened). */
  get sidebar() {
    return this.page.getByRole('navigation', { name: 'Conversations' })
  }

  /** The listed conversation whose title matches; titles come from the first prompt. */
  conversation(title: string | RegExp) {
    return this.sidebar.getByRole('link', { name: title })
  }

  /** The conversation marked as open (aria-current). */
  get activeConversation() {
    return this.sidebar.locator('a[aria-current="page"]')
  }

  /** The listed titles, top (newest) to bottom. */
  async conversationTitles(): Promise<string[]> {
    return this.sidebar.locator('li > a').allTextContents()
  }

  /** The id in the URL (`/c/{id}`), or null for a new chat. */
  conversationId(): string | null {
    return /^\/c\/([^/]+)$/.exec(new URL(this.page.url()).pathname)?.[1] ?? null
  }

  async newChat() {
    await this.sidebar.getByRole('button', { name: 'New chat' }).click()
  }

  async openActions(title: string) {
    await this.sidebar.getByRole('button', { name: `Actions for ${title}` }).click()
  }

  async renameConversation(title: string, newTitle: string) {
    await this.openActions(title)
    await this.sidebar.getByRole('button', { name: 'Rename', exact: true }).click()
    const dialog = this.page.getByRole('dialog', { name: 'Rename conversation' })
    await dialog.getByLabel('Title').fill(newTitle)
    await dialog.getByRole('button', { name: 'Save' }).click()
    await dialog.waitFor({ state: 'detached' })
  }

  async deleteConversation(title: string) {
    await this.openActions(title)
    await this.sidebar.getByRole('button', { name: 'Delete', exact: true }).click()
    const dialog = this.page.getByRole('dialog', { name: 'Delete conversation?' })
    await dialog.getByRole('button', { name: 'Delete' }).click()
    await dialog.waitFor({ state: 'detached' })
  }

  /** Reloads the page, and waits until the conversation is on screen. */
  async reloadPage() {
    await this.page.reload()
    await this.messageBox.waitFor()
    await this.page.getByRole('status').filter({ hasText: 'Loading the conversation' }).waitFor({ state: 'detached' })
  }

  /**
   * Reloads, and waits until no answer is being written: one still running on the server goes
   * on streaming into the reloaded page until its end.
   */
  async reload() {
    await this.reloadPage()
    await this.waitUntilIdle()
  }

  /** Waits until no answer is being written in the page (Send is back in place of Stop). */
  async waitUntilIdle(timeout = 30_000) {
    await this.stopButton.waitFor({ state: 'detached', timeout })
  }

  /** The line that says a dropped connection is being re-established. */
  get reconnecting() {
    return this.page.getByRole('status').filter({ hasText: 'Reconnecting' })
  }

  /** An answer's text, without its footer (which differs between live and stored answers). */
  async answerText(n = -1) {
    return this.answer(n).locator('.markdown').textContent()
  }

  answer(n = -1) {
    const answers = this.page.getByRole('article', { name: 'Assistant' })
    return n < 0 ? answers.last() : answers.nth(n)
  }

  async send(text: string) {
    await this.messageBox.fill(text)
    await this.messageBox.press('Enter')
  }

  /** The model picker in the composer (shown when the server offers more than one model). */
  get modelPicker() {
    return this.page.getByRole('combobox', { name: 'Model' })
  }

  /** The reasoning level, offered only for a model that can reason. */
  get reasoningPicker() {
    return this.page.getByRole('combobox', { name: 'Reasoning' })
  }

  /** Picks the model for the next turn by its display name. */
  async chooseModel(name: string) {
    await this.modelPicker.selectOption({ label: name })
  }

  async chooseReasoning(level: 'Off' | 'Low' | 'Medium' | 'High') {
    await this.reasoningPicker.selectOption({ label: level })
  }

  /** The active model's name in the header. */
  get headerModel() {
    return this.page.locator('.chat-header .model')
  }

  /** An answer's Thinking section (a disclosure: open while the model thinks). */
  thinking(n = -1) {
    return this.answer(n).getByRole('group', { name: 'Thinking' })
  }

  /** Waits until the answer is complete (its token count shows). */
  async waitForAnswer(n = -1) {
    await this.answer(n).getByText(/tokens ·/).waitFor()
  }

  async close() {
    await this.context.close()
  }
}

/** A stored conversation as the API returns it. */
export async function storedConversation(
  appUrl: string,
  id: string,
): Promise<{ model: string | null; messages: { role: string; content: string; status: string; model?: string | null; reasoning?: string | null }[] }> {
  const response = await fetch(`${appUrl}/api/conversations/${id}`)
  if (!response.ok) throw new Error(`GET /api/conversations/${id} answered ${response.status}`)
  return (await response.json()) as never
}

/** The emulator's synthetic answer of `n` deltas (its `slow` and `long` scenarios). */
export function syntheticText(n: number): string {
  const words = ['lorem', 'ipsum', 'dolor', 'sit', 'amet', 'consectetur', 'adipiscing', 'elit']
  return Array.from({ length: n }, (_, i) => `${words[i % words.length]}${i} `).join('')
}

/** The emulator's log of what reached "Bedrock". */
export async function emulatorRequests(
  emulatorUrl: string,
): Promise<{ modelId: string; outcome: { kind: string }; body: { messages: unknown[]; additionalModelRequestFields?: unknown } }[]> {
  return (await (await fetch(`${emulatorUrl}/_emulator/requests`)).json()) as never
}
