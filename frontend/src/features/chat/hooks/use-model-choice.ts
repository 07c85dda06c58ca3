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

/** The reader's last model and reasoning level, kept in this browser: a reload or a new chat keeps them. */
const MODEL_KEY = 'streambed:model'
const REASONING_KEY = 'streambed:reasoning'
const LEVELS: readonly string[] = ['off', 'low', 'medium', 'high'] satisfies ReasoningLevel[]

function kept(key: string): string | null {
  try {
    return localStorage.getItem(key)
  } catch {
    return null // storage blocked: nothing kept
  }
}

function keep(key: string, value: string) {
  try {
    localStorage.setItem(key, value)
  } catch {
    // Storage blocked: the choice holds for this page only.
  }
}

function lastReasoning(): ReasoningLevel {
  const level = kept(REASONING_KEY)
  return level !== null && LEVELS.includes(level) ? (level as ReasoningLevel) : 'off'
}

/**
 * One conversation's choice of model and reasoning. Until the reader picks one, the model is
 * the conversation's own (`preferred`, its latest turn's) while the server still offers it,
 * else the one the reader picked last, else the server's default. Reasoning starts at the
 * reader's last level (off at first), and is sent, `off` included (else the server would apply
 * its own default), only to a model that can reason.
 */
export function useModelChoice(info: ModelsInfo | null, preferred?: string | null): ModelSelection {
  const [picked, setPicked] = useState<string | null>(null)
  const [reasoning, setLevel] = useState<ReasoningLevel>(lastReasoning)
  const [last] = useState(() => kept(MODEL_KEY))
  const pick = (id: string) => {
    keep(MODEL_KEY, id)
    setPicked(id)
  }
  const setReasoning = (level: ReasoningLevel) => {
    keep(REASONING_KEY, level)
    setLevel(level)
  }
  const models = info?.models ?? []
  const find = (id: string | null | undefined) => (id ? models.find((m) => m.id === id) : undefined)
  const active = find(picked) ?? find(preferred) ?? find(last) ?? find(info?.default) ?? models[0] ?? null
  const canReason = active !== null && active.capabilities.reasoning !== 'none'
  const choice: ModelChoice = active ? { model: active.id, ...(canReason ? { reasoning } : {}) } : {}
  return { models, active, canReason, reasoning, choice, pick, setReasoning }
}
