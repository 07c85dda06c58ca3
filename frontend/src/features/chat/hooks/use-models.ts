import { useEffect, useState } from 'react'

import { fetchModels } from '../api/models'
import type { ModelsInfo } from '../api/types'

/**
 * The active provider and model, or null until known (or if the server is unreachable or
 * wants a key). Asked again when `keyVersion` changes, i.e. after a new API key was saved.
 */
export function useModels(keyVersion = 0): ModelsInfo | null {
  const [models, setModels] = useState<ModelsInfo | null>(null)
  useEffect(() => {
    const abort = new AbortController()
    fetchModels(abort.signal).then(setModels, () => setModels(null))
    return () => abort.abort()
  }, [keyVersion])
  return models
}
