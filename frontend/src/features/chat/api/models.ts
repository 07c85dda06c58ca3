import { apiBaseUrl } from '../../../config'
import { authHeaders } from './api-key'
import type { ModelsInfo } from './types'

/** The active provider and model, for the header. */
export async function fetchModels(signal?: AbortSignal): Promise<ModelsInfo> {
  const response = await fetch(`${apiBaseUrl}/api/models`, { signal, headers: authHeaders() })
  if (!response.ok) throw new Error(`GET /api/models answered ${response.status}`)
  return (await response.json()) as ModelsInfo
}
