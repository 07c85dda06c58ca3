import { act, fireEvent, render, screen } from '@testing-library/react'

import { ChatError } from '../api/chat-error'
import { ErrorBanner } from './error-banner'

describe('ErrorBanner', () => {
  beforeEach(() => vi.useFakeTimers())
  afterEach(() => vi.useRealTimers())

  it('holds Retry back, counting down, for as long as the server asked to wait', () => {
    const onRetry = vi.fn()
    const limited = new ChatError({ code: 'rate_limited', message: 'Too fast.' }, 429, 3000)
    render(<ErrorBanner error={limited} onRetry={onRetry} />)

    const retry = screen.getByRole('button', { name: 'Retry' })
    expect(retry).toBeDisabled()
    expect(retry).toHaveTextContent('Retry in 3 s')
    act(() => vi.advanceTimersByTime(1000))
    expect(retry).toHaveTextContent('Retry in 2 s')
    act(() => vi.advanceTimersByTime(2000))
    expect(retry).toBeEnabled()
    expect(retry).toHaveTextContent(/^Retry$/)
    fireEvent.click(retry)
    expect(onRetry).toHaveBeenCalledOnce()
  })

  it('offers Retry at once when the server named no wait', () => {
    render(<ErrorBanner error={new ChatError({ code: 'upstream_error', message: 'Failed.' }, 502)} onRetry={vi.fn()} />)

    expect(screen.getByRole('button', { name: 'Retry' })).toBeEnabled()
  })
})
