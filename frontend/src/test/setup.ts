import '@testing-library/jest-dom/vitest'

import { cleanup } from '@testing-library/react'

// jsdom has <dialog> but not its modal behaviour: just enough of it, as Chromium behaves, for
// the tests (open while shown; Escape fires a cancelable `cancel`, then closes; `close` is
// queued as a task, not fired at once).
if (typeof HTMLDialogElement !== 'undefined' && typeof HTMLDialogElement.prototype.showModal !== 'function') {
  HTMLDialogElement.prototype.showModal = function showModal(this: HTMLDialogElement) {
    this.setAttribute('open', '')
  }
  HTMLDialogElement.prototype.show = HTMLDialogElement.prototype.showModal
  HTMLDialogElement.prototype.close = function close(this: HTMLDialogElement) {
    if (!this.hasAttribute('open')) return
    this.removeAttribute('open')
    setTimeout(() => this.dispatchEvent(new Event('close')))
  }
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape' || event.defaultPrevented) return
    const dialog = Array.from(document.querySelectorAll('dialog[open]')).at(-1)
    if (dialog instanceof HTMLDialogElement && dialog.dispatchEvent(new Event('cancel', { cancelable: true }))) dialog.close()
  })
}

// Each test starts at `/`, with nothing kept in the browser, as a fresh page load would.
afterEach(() => {
  cleanup()
  window.history.replaceState(null, '', '/')
  localStorage.clear()
})
