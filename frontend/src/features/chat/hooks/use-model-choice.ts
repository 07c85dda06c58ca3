import { useState } from 'react'

import type { ModelChoice, ModelInfo, ModelsInfo, ReasoningLevel } from '../api/types'

export interface ModelSelection {
  /** The models to pick from (none until the server said). */
  models: ModelInfo[]
  /** The model the next turn goes to, or null while the list is unknown. */
  active: ModelInfo | null
  /** Whether the active model takes a reasoning level. */
  canReason: boolean
  reasoning: ReasoningLevel
  /** What the next request carries. */
  choice: ModelChoice
  pick: (id: string) => void
  setReasoning: (level: ReasoningLevel) => void
}

/**
 * One conversation's choice of model and reasoning. Until the reader picks one, the model is
 * the conversation's own (`preferred`, its latest turn's) while the server still offers it,
 * else the server's default. Reasoning starts off, and is sent, `off` included (else the
 * server would apply its own default), only to a model that can reason.
 */
export function useModelChoice(info: ModelsInfo | null, preferred?: string | null): ModelSelection {
  const [picked, setPicked] = useState<string | null>(null)
  const [reasoning, setReasoning] = useState<ReasoningLevel>('off')
  const models = info?.models ?? []
  const find = (id: string | null | undefined) => (id ? models.find((m) => m.id === id) : undefined)
  const active = find(picked) ?? find(preferred) ?? find(info?.default) ?? models[0] ?? null
  const canReason = active !== null && active.capabilities.reasoning !== 'none'
  const choice: ModelChoice = active ? { model: active.id, ...(canReason ? { reasoning } : {}) } : {}
  return { models, active, canReason, reasoning, choice, pick: setPicked, setReasoning }
}
