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

  get messageBox() {
    return this.page.getByRole('textbox', { name: 'Message' })
  }

  get stopButton() {
    return this.page.getByRole('button', { name: 'Stop' })
  }

  get alert() {
    return this.page.getByRole('alert')
  }

  answer(n = -1) {
    const answers = this.page.getByRole('article', { name: 'Assistant' })
    return n < 0 ? answers.last() : answers.nth(n)
  }

  async send(text: string) {
    await this.messageBox.fill(text)
    await this.messageBox.press('Enter')
  }

  /** Waits until the answer is complete (its token count shows). */
  async waitForAnswer(n = -1) {
    await this.answer(n).getByText(/tokens ·/).waitFor()
  }

  async close() {
    await this.context.close()
  }
}

/** The emulator's log of what reached "Bedrock". */
export async function emulatorRequests(emulatorUrl: string): Promise<{ outcome: { kind: string }; body: { messages: unknown[] } }[]> {
  return (await (await fetch(`${emulatorUrl}/_emulator/requests`)).json()) as never
}
