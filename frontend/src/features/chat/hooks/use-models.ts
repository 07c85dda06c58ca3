import { useEffect, useState } from 'react'

import { fetchModels } from '../api/models'
import type { ModelsInfo } from '../api/types'

/** The active provider and model, or null until known (or if the server is unreachable). */
export function useModels(): ModelsInfo | null {
  const [models, setModels] = useState<ModelsInfo | null>(null)
  useEffect(() => {
    const abort = new AbortController()
    fetchModels(abort.signal).then(setModels, () => setModels(null))
    return () => abort.abort()
  }, [])
  return models
}
