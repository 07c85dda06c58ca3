import { apiBaseUrl } from '../../../config'
import { authHeaders } from './api-key'
import type { ModelCapabilities, ModelInfo, ModelsInfo } from './types'

/** What a model described without its capabilities (a server older than the model picker) can do. */
const plainText: ModelCapabilities = {
  reasoning: 'none',
  sampling: [],
  temperatureWithTopP: false,
  maxOutputTokens: 0,
  contextWindow: 0,
  tools: false,
  images: false,
  documents: false,
  promptCache: false,
}

/**
 * The models a client may pick, and the server's default. A model without a display name
 * goes by its id, one without capabilities counts as plain text (no reasoning control).
 */
export async function fetchModels(signal?: AbortSignal): Promise<ModelsInfo> {
  const response = await fetch(`${apiBaseUrl}/api/models`, { signal, headers: authHeaders() })
  if (!response.ok) throw new Error(`GET /api/models answered ${response.status}`)
  const info = (await response.json()) as ModelsInfo
  const models = (info.models ?? []).map(
    (m): ModelInfo => ({ ...m, name: m.name || m.id, default: m.default ?? m.id === info.default, capabilities: m.capabilities ?? plainText }),
  )
  return { ...info, models }
}
