/**
 * The API key (or token) for servers that require one, kept in sessionStorage: it lasts for
 * this tab and is never written to disk as localStorage would be.
 */
const STORAGE_KEY = 'streambed.apiKey'

export function readApiKey(): string {
  try {
    return sessionStorage.getItem(STORAGE_KEY) ?? ''
  } catch {
    return '' // storage disabled (privacy mode): the key simply is not remembered
  }
}

export function saveApiKey(key: string): void {
  try {
    if (key) sessionStorage.setItem(STORAGE_KEY, key)
    else sessionStorage.removeItem(STORAGE_KEY)
  } catch {
    // As above: nothing to remember it in.
  }
}

/** The Authorization header for every API call, when a key is set. */
export function authHeaders(): Record<string, string> {
  const key = readApiKey()
  return key ? { Authorization: `Bearer ${key}` } : {}
}
