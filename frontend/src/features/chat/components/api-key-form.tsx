import { type FormEvent, useId, useState } from 'react'

import { readApiKey, saveApiKey } from '../api/api-key'

/** Where a person enters the server's API key; saved for this tab only. */
export function ApiKeyForm({ onSaved }: { onSaved: () => void }) {
  const [value, setValue] = useState(readApiKey)
  const id = useId()

  const submit = (event: FormEvent) => {
    event.preventDefault()
    saveApiKey(value.trim())
    onSaved()
  }

  return (
    <form className="api-key-form" aria-label="API key settings" onSubmit={submit}>
      <label htmlFor={id}>API key</label>
      <input
        id={id}
        type="password"
        autoComplete="off"
        spellCheck={false}
        value={value}
        onChange={(event) => setValue(event.target.value)}
        placeholder="Key or token from your administrator"
      />
      <button type="submit">Save</button>
      <p className="hint">Kept in this browser tab only. Leave empty to remove it.</p>
    </form>
  )
}
