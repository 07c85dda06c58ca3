import { render, screen, waitFor } from '@testing-library/react'
import userEvent from '@testing-library/user-event'
import { StrictMode, useState } from 'react'

import { ModalDialog } from './modal-dialog'

function Opener() {
  const [open, setOpen] = useState(false)
  return (
    <>
      <button type="button" onClick={() => setOpen(true)}>
        Open
      </button>
      {open && (
        <ModalDialog label="Example" onClose={() => setOpen(false)}>
          <button type="button">First</button>
          <button type="button" data-autofocus>
            Chosen
          </button>
        </ModalDialog>
      )}
    </>
  )
}

describe('ModalDialog', () => {
  it('stays open under StrictMode, whose second mount follows a close', async () => {
    const user = userEvent.setup()
    render(
      <StrictMode>
        <Opener />
      </StrictMode>,
    )

    await user.click(screen.getByRole('button', { name: 'Open' }))
    await new Promise((resolve) => setTimeout(resolve, 10))

    expect(screen.getByRole('dialog', { name: 'Example' })).toHaveAttribute('open')
    expect(screen.getByRole('button', { name: 'Chosen' })).toHaveFocus()
  })

  it('closes on Escape and gives the focus back', async () => {
    const user = userEvent.setup()
    render(<Opener />)
    const open = screen.getByRole('button', { name: 'Open' })
    await user.click(open)

    await user.keyboard('{Escape}')

    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull())
    expect(open).toHaveFocus()
  })
})
